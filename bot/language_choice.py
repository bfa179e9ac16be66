"""Which language a conversation is answered in: its channel's hint, its first messages, a request.

A conversation starts in the language its channel suggests (the widget's ``data-lang`` or the
browser's language, a Telegram user's ``language_code``) when we speak it, else in
:data:`bot.languages.DEFAULT`. Each of its first :data:`CHECKED_MESSAGES` buyer messages that is
long enough to tell sets it, when the detector is sure and we speak the language; after that it
is sticky, so an English "ok" in a Spanish conversation changes nothing. An explicit request
("¿hablas español?", "можно на русском", "can you answer in English?") switches it at any time.
A message the detector is sure is in a language we do not speak is answered by the gateway (in
English, naming the languages we speak) and not sent to Rasa.

The detector is `lingua <https://github.com/pemistahl/lingua-py>`_, made for short texts, built
once per process over our languages and the other languages buyers commonly write. Order numbers,
references, e-mail addresses and links are taken out before it reads a message: they are the same
in every language.

Each language lingua tells apart costs memory in every gateway (its n-gram models, 5 to 55 MB),
so the other languages are the few that buyers of such shops write most and that the detector
needs to tell from ours. Three more are told by letters of their own instead of by a model:
Ukrainian, the language most often taken for Russian and the costliest to model (54 MB), by the
letters Russian does not have (і, ї, є, ґ); Turkish, whose short messages the models take for
Spanish, by its dotless ı and its ğ; Polish by ą, ę, ł, ś, ż and the like. Italian is left out
(18 MB): its messages are not taken for Spanish, they decide nothing.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from babel import Locale
from babel.lists import format_list
from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from bot.languages import DEFAULT, LANGUAGES

#: Other languages buyers commonly write: told apart so they are not taken for one of ours.
#: Portuguese is Spanish's neighbour; German and French are among the largest groups of
#: buyers; the rest have scripts of their own (and cost little to model).
OTHER_LANGUAGES: tuple[str, ...] = ("de", "fr", "pt", "ar", "zh", "ja", "ko")
#: Languages told by letters that neither ours nor the other languages above use.
OWN_LETTERS: dict[str, re.Pattern[str]] = {
    "uk": re.compile("[іїєґІЇЄҐ]"),
    "tr": re.compile("[ığİĞ]"),
    "pl": re.compile("[ąćęłńśźżĄĆĘŁŃŚŹŻ]"),
}
#: How many of a conversation's first buyer messages may set its language.
CHECKED_MESSAGES = 3
#: A message with fewer letters (once numbers, references and addresses are out) tells nothing.
MIN_LETTERS = 6
#: The detector's confidence in its first language, and its lead over the second, to be sure.
#: (English typed with typos, "can i tlak to a humna plz", reads 0.42 Spanish.)
MIN_CONFIDENCE = 0.45
MIN_LEAD = 0.2
#: Stricter for a language we do not speak: its answer replaces the bot's.
OTHER_MIN_CONFIDENCE = 0.8
OTHER_MIN_LEAD = 0.5
OTHER_MIN_LETTERS = 10

#: How buyers name each of our languages, in the languages they write: lower-case word starts
#: (Russian declines, so its names are stems). Adding a language adds its line here.
NAMES: dict[str, tuple[str, ...]] = {
    "en": ("english", "ingl", "англ"),
    "es": ("spanish", "españ", "espan", "castellan", "испан"),
    "ru": ("russian", "ruso", "rusa", "русс"),
}
#: Words that make a short message naming a language a request to use it.
REQUEST_WORDS = frozenset(
    " ".join(
        (
            "in speak talk answer reply write switch please use",  # English
            "en habla hablas hablan hablar hable responde responder contesta escribe escribir",
            "favor puedes puede",  # Spanish
            "на по говорите говоришь говорить пишите пиши отвечайте ответьте можно пожалуйста",
            "давайте",  # Russian
        )
    ).split()
)
#: Words that may come with a request without making it one ("could you ...", "со мной").
REQUEST_COMPANIONS = frozenset(
    " ".join(
        (
            "you can could would do i me to we us let lets from now on",  # English
            "tu usted me por puedo podemos mejor ahora sabes",  # Spanish (accents folded)
            "вы ты мне со мной лучше можете можешь давай знаете",  # Russian
        )
    ).split()
)
#: A request is a short message: a longer one naming a language is about something else, and
#: so is one with more than this many other words ("the manual is not in English").
REQUEST_MAX_WORDS = 8
REQUEST_MAX_OTHER_WORDS = 1

_NOT_WORDS = re.compile(
    r"\S+@\S+"  # e-mail addresses
    r"|\b(?:https?://|www\.)\S+"  # links
    r"|\b\w*\d\w*\b",  # order numbers, RF references, amounts: anything with a digit
    re.UNICODE,
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


class Source(str, Enum):
    """What set a conversation's language."""

    DEFAULT = "default"
    HINT = "hint"
    DETECTED = "detected"
    ASKED = "asked"

    @property
    def settled(self) -> bool:
        """Return whether the buyer's own words set it (the next messages do not change it)."""
        return self in (Source.DETECTED, Source.ASKED)


@dataclass(frozen=True)
class Choice:
    """A conversation's language after one buyer message, and what the gateway answers."""

    language: str
    source: Source
    asked: bool = False
    """The message asked for a language: the gateway confirms it instead of Rasa answering."""
    unsupported: str | None = None
    """The language of a message we cannot answer in (ISO 639-1): the gateway says so."""

    @property
    def answered_by_gateway(self) -> bool:
        """Return whether the message is answered here and not sent to Rasa."""
        return self.asked or self.unsupported is not None


class Detector:
    """Tells the language of a buyer's message, or nothing when it cannot be sure."""

    def __init__(self, languages: Iterable[str] = LANGUAGES + OTHER_LANGUAGES) -> None:
        """Build the detector over ``languages`` (ISO 639-1 codes); models load on first use."""
        codes = [IsoCode639_1.from_str(code) for code in dict.fromkeys(languages)]
        self._lingua: LanguageDetector = LanguageDetectorBuilder.from_iso_codes_639_1(
            *codes
        ).build()
        self._warm = threading.Lock()

    def detect(self, text: str) -> str | None:
        """Return the ISO 639-1 code of ``text``'s language, or ``None`` when unsure.

        One of our languages needs a clear lead; another language a much clearer one, since a
        message taken for it is not answered by the bot.
        """
        letters = words_of(text)
        count = sum(len(w) for w in letters)
        if count < MIN_LETTERS:
            return None
        joined = " ".join(letters)
        if count >= OTHER_MIN_LETTERS:
            for code, own in OWN_LETTERS.items():
                if own.search(joined):
                    return code
        values = self._lingua.compute_language_confidence_values(joined)
        if not values:
            return None
        first = values[0]
        lead = first.value - (values[1].value if len(values) > 1 else 0.0)
        code = _code(first.language)
        if code in LANGUAGES:
            return code if first.value >= MIN_CONFIDENCE and lead >= MIN_LEAD else None
        sure = first.value >= OTHER_MIN_CONFIDENCE and lead >= OTHER_MIN_LEAD
        return code if sure and count >= OTHER_MIN_LETTERS else None

    def warm(self) -> None:
        """Load every language model now (each loads on the first message in its script else)."""
        with self._warm:
            for text in _WARM_UP:
                self._lingua.compute_language_confidence_values(text)


#: A text in each script the detector's languages are written in: lingua loads the models of the
#: languages a text's script may be, so these load them all.
_WARM_UP = (
    "warm up every language model",
    "загрузить модели языков",
    "تحميل نماذج اللغات",
    "加载语言模型",
    "言語モデルを読み込む",
    "언어 모델을 불러오기",
)


@functools.cache
def detector() -> Detector:
    """Return this process's detector, built on first use (never at import)."""
    return Detector()


def _code(language: Language) -> str:
    return language.iso_code_639_1.name.lower()


def words_of(text: str) -> list[str]:
    """Return the words of ``text`` that tell a language: no numbers, references or addresses."""
    return _WORD.findall(_NOT_WORDS.sub(" ", text))


def _folded(word: str) -> str:
    """Lower-case ``word`` without the accents of Latin letters (buyers type ``ingles``).

    ``ñ`` stays (``espanol`` is listed too), and so do Cyrillic letters such as ``й``.
    """
    return "".join(_plain(c) for c in word.lower())


def _plain(letter: str) -> str:
    if letter == "ñ" or not "\u00c0" <= letter <= "\u024f":
        return letter
    return unicodedata.normalize("NFD", letter)[0]


def requested_language(text: str) -> str | None:
    """Return the language a short message asks to be answered in, or ``None``.

    A message asks when it names one of our languages and is little more than that name with
    words that ask ("en español por favor", "по-русски пожалуйста", "could you speak
    Spanish?").
    """
    words = [_folded(w) for w in words_of(text)]
    if not words or len(words) > REQUEST_MAX_WORDS:
        return None
    named = {
        language
        for language, names in NAMES.items()
        for word in words
        if word.startswith(tuple(_folded(n) for n in names))
    }
    if len(named) != 1:
        return None
    (language,) = named
    rest = [w for w in words if not w.startswith(tuple(_folded(n) for n in NAMES[language]))]
    asking = [w for w in rest if w in REQUEST_WORDS]
    other = [w for w in rest if w not in REQUEST_WORDS and w not in REQUEST_COMPANIONS]
    if rest and not asking or len(other) > REQUEST_MAX_OTHER_WORDS:
        return None
    return language


def hinted(hint: object) -> str | None:
    """Return the language of a channel's hint (``es``, ``es-MX``, ``ru_RU``) if we speak it."""
    if not isinstance(hint, str) or not hint:
        return None
    code = re.split(r"[-_]", hint.strip(), maxsplit=1)[0].lower()
    return code if code in LANGUAGES else None


def starting(hint: object) -> tuple[str, Source]:
    """Return the language a new conversation starts in, and why."""
    language = hinted(hint)
    return (DEFAULT, Source.DEFAULT) if language is None else (language, Source.HINT)


def choose(
    language: str,
    source: Source,
    *,
    text: str,
    position: Callable[[], int],
    detect: Detector | None = None,
) -> Choice:
    """Return the conversation's language after the buyer's message ``text``.

    Args:
        language: The conversation's language before the message.
        source: What set it.
        text: What the buyer typed (not a button's payload).
        position: Returns the message's place among the conversation's typed buyer messages
            (1 = first); called only while the first messages may still set the language.
        detect: The detector (the process's own by default).
    """
    asked = requested_language(text)
    if asked is not None:
        return Choice(asked, Source.ASKED, asked=True)
    found = (detect or detector()).detect(text)
    if found is None:
        return Choice(language, source)
    if found not in LANGUAGES:
        return Choice(language, source, unsupported=found)
    if not source.settled and position() <= CHECKED_MESSAGES:
        return Choice(found, Source.DETECTED)
    return Choice(language, source)


def spoken(*, language: str = DEFAULT) -> str:
    """Return the languages we speak, each named in itself, as a list in ``language``."""
    names = [Locale.parse(code).get_display_name(code) or code for code in LANGUAGES]
    return format_list(names, locale=language)
