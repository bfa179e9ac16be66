"""How Spanish-speaking buyers rate the service in words: what :mod:`bot.survey.answers` reads.

Written as buyers type them, with the common misspellings; accents are optional (the tables and
the message are folded alike, :func:`bot.survey.words.fold`).
"""

from __future__ import annotations

import re

from bot.survey.words import Ratings, words

# "un" is left out: "un 4" is "a 4", not a one.
NUMBERS = {"uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5}


def _genders(word: str, rating: int) -> dict[str, int]:
    """Return ``word`` (masculine, ending in -o) and its feminine, both with ``rating``."""
    return {word: rating, word[:-1] + "a": rating}


VERDICTS: dict[str, int] = {
    # 1
    **_genders("malísimo", 1),
    **_genders("pésimo", 1),
    **_genders("muy malo", 1),
    **_genders("desastroso", 1),
    "muy mal": 1,
    "fatal": 1,
    "horrible": 1,
    "orrible": 1,
    "terrible": 1,
    "un desastre": 1,
    "lo peor": 1,
    "el peor": 1,
    "inútil": 1,
    "nada útil": 1,
    "una porquería": 1,
    "una mierda": 1,
    # 2
    **_genders("malo", 2),
    "mal": 2,
    "no muy bien": 2,
    "no tan bien": 2,
    **_genders("no muy bueno", 2),
    **_genders("no tan bueno", 2),
    "deficiente": 2,
    "flojo": 2,
    "decepcionante": 2,
    "poco útil": 2,
    # 3
    "regular": 3,
    "normal": 3,
    "más o menos": 3,
    "mas o menos": 3,
    "ni bien ni mal": 3,
    "aceptable": 3,
    "pasable": 3,
    "ok": 3,
    # 4
    "bien": 4,
    **_genders("bueno", 4),
    "no está mal": 4,
    "nada mal": 4,
    "bastante bien": 4,
    **_genders("bastante bueno", 4),
    "útil": 4,
    # 5
    "muy bien": 5,
    **_genders("muy bueno", 5),
    **_genders("buenísimo", 5),
    "excelente": 5,
    "exelente": 5,
    "excelnte": 5,
    "ecselente": 5,
    "exclente": 5,
    **_genders("perfecto", 5),
    **_genders("perfeto", 5),
    "genial": 5,
    **_genders("fantástico", 5),
    "increíble": 5,
    **_genders("estupendo", 5),
    **_genders("maravilloso", 5),
    "espectacular": 5,
    "de diez": 5,
    "de 10": 5,
    "súper": 5,
    "super bien": 5,
    "muy útil": 5,
    "lo máximo": 5,
    "chévere": 5,
    "bacán": 5,
}

FILLER = words(
    "yo le te les doy daría diría pondría pongo un es fue ha sido sería "
    "el la lo los las de del mi mis tu su me pareció parece todo todos y "
    "gracias muchas mil muchísimas servicio atención experiencia chat bot asistente "
    "la verdad sinceramente en general pues nota calificación puntuación valoración "
    "estuvo está esta ha estado"
)

# "¿Dónde está…?" is a question by its marks; these are requests without one.
REQUEST = re.compile(
    r"\b(reembolsos?|devoluci[oó]n|devolver|cancelar|anular|retirar|mi pedido|mi dinero|"
    r"mi orden|el estado|seguimiento|d[oó]nde est[aá]|cu[aá]ndo (llega|me|va)|quiero|"
    r"necesito|quisiera|puedes|podr[ií]as|puede|ay[uú]dame|c[oó]mo (hago|puedo)|"
    r"hablar con)\b",
    re.I,
)

RATINGS = Ratings(
    numbers=NUMBERS,
    out_of=r"de|sobre",
    five=r"cinco",
    stars=r"estrellas?|puntos?",
    verdicts=VERDICTS,
    filler=FILLER,
    request=REQUEST,
)
