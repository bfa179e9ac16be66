"""Reading the buyer's answers to the survey: buttons, typed numbers, words, stars, comments."""

from __future__ import annotations

import pytest

from bot.languages import LANGUAGES
from bot.survey import words
from bot.survey.answers import (
    Pressed,
    no_comment_payload,
    pressed,
    rate_payload,
    rating_of,
    reads_as_request,
)


@pytest.mark.parametrize(
    ("said", "rating"),
    [
        ("4", 4),
        (" 4 ", 4),
        ("4/5", 4),
        ("4 / 5", 4),
        ("4 out of 5", 4),
        ("1", 1),
        ("5!", 5),
        ("3 stars", 3),
        ("I'd say 4", 4),
        ("I\u2019d say 2, thanks", 2),
        ("five", 5),
        ("Five stars", 5),
        ("two out of five", 2),
        ("great", 5),
        ("Great, thanks!", 5),
        ("very good", 5),
        ("good", 4),
        ("not bad", 4),
        ("ok", 3),
        ("so-so", 3),
        ("bad", 2),
        ("not good", 2),
        ("terrible", 1),
        ("Awful.", 1),
        ("\N{WHITE MEDIUM STAR}" * 3, 3),
        ("\N{WHITE MEDIUM STAR}\N{VARIATION SELECTOR-16}" * 5, 5),
        ("\N{BLACK STAR}" * 4 + "\N{WHITE STAR}", 4),
        ("\N{THUMBS UP SIGN}", 4),
        ("\N{POUTING FACE}", 1),
    ],
)
def test_a_typed_rating_is_read(said: str, rating: int) -> None:
    assert rating_of(said) == rating


@pytest.mark.parametrize(
    "said",
    [
        "",
        "0",
        "6",
        "45",
        "4.5",
        "4 5",
        "-5",
        "+4",
        "10/10",
        "3000012345678901",
        "order 4",
        "4 items are missing from my parcel",
        "hello",
        "where is my refund?",
        "good and bad",
        "the agent was great but the refund is late",
        "\N{WHITE STAR}" * 5,
        "\N{WHITE MEDIUM STAR}" * 6,
        "\N{THUMBS UP SIGN}\N{THUMBS DOWN SIGN}",
        "x" * 80,
    ],
)
def test_what_says_more_or_other_than_a_rating_is_not_one(said: str) -> None:
    assert rating_of(said) is None


@pytest.mark.parametrize(
    ("said", "rating"),
    [
        ("excelente", 5),
        ("¡Excelente, gracias!", 5),
        ("Exelente", 5),
        ("muy bien", 5),
        ("Muy buena atención", 5),
        ("todo perfecto", 5),
        ("cinco estrellas", 5),
        ("5 estrellas", 5),
        ("cuatro de cinco", 4),
        ("4 de 5", 4),
        ("4 sobre 5", 4),
        ("un 4", 4),
        ("le doy un 4", 4),
        ("bien", 4),
        ("no está mal", 4),
        ("no esta mal", 4),
        ("regular", 3),
        ("más o menos", 3),
        ("mas o menos", 3),
        ("ok, gracias", 3),
        ("mal", 2),
        ("no muy bien", 2),
        ("malísimo", 1),
        ("malisimo", 1),
        ("Pésimo.", 1),
        ("muy mal", 1),
        ("una estrella", 1),
    ],
)
def test_a_rating_in_spanish_is_read(said: str, rating: int) -> None:
    assert rating_of(said, "es") == rating


@pytest.mark.parametrize(
    ("said", "rating"),
    [
        ("отлично", 5),
        ("Отлично, спасибо!", 5),
        ("отлчно", 5),
        ("всё отлично", 5),
        ("все отлично", 5),
        ("супер", 5),
        ("очень хорошо", 5),
        ("пять звёзд", 5),
        ("пять звезд", 5),
        ("5 баллов", 5),
        ("на 5", 5),
        ("ставлю 5", 5),
        ("на пятёрку", 5),
        ("на пятерку", 5),
        ("4 из 5", 4),
        ("четыре из пяти", 4),
        ("оценка 4", 4),
        ("хорошо", 4),
        ("неплохо", 4),
        ("нормально", 3),
        ("норм", 3),
        ("так себе", 3),
        ("плохо", 2),
        ("не очень", 2),
        ("ужасно", 1),
        ("ужастно", 1),
        ("очень плохо", 1),
    ],
)
def test_a_rating_in_russian_is_read(said: str, rating: int) -> None:
    assert rating_of(said, "ru") == rating


@pytest.mark.parametrize(
    ("said", "language"),
    [
        ("4 productos no llegaron", "es"),
        ("bien pero tardaron mucho", "es"),
        ("no bien", "es"),
        ("muy bien y mal", "es"),
        ("10 de 10", "es"),
        ("un 4,5", "es"),
        ("pedido 4", "es"),
        ("hola", "es"),
        ("¿dónde está mi reembolso?", "es"),
        ("4 товара не пришли", "ru"),
        ("хорошо, но долго", "ru"),
        ("на 6", "ru"),
        ("заказ 5", "ru"),
        ("привет", "ru"),
        ("где мой возврат?", "ru"),
        ("плохо и хорошо", "ru"),
    ],
)
def test_what_says_more_than_a_rating_is_not_one_in_any_language(said: str, language: str) -> None:
    assert rating_of(said, language) is None


@pytest.mark.parametrize(
    ("said", "language", "rating"),
    [
        # The question went out in English before the buyer's language was told apart.
        ("excelente", "en", 5),
        ("отлично", "en", 5),
        ("так себе", "es", 3),
        # English mixed into another language.
        ("super, gracias", "es", 5),
        ("ok, спасибо", "ru", 3),
    ],
)
def test_a_rating_in_another_language_we_speak_is_read_too(
    said: str, language: str, rating: int
) -> None:
    assert rating_of(said, language) == rating


def test_no_word_rates_differently_or_is_filler_in_the_languages_read_together() -> None:
    for codes in {c for language in LANGUAGES for c in words.readable(language)}:
        tables = [words.TABLES[code] for code in codes]
        ratings: dict[str, set[int]] = {}
        for table in tables:
            for word, rating in (*table.verdicts.items(), *table.numbers.items()):
                ratings.setdefault(words.fold(word), set()).add(rating)
        assert {w: r for w, r in ratings.items() if len(r) > 1} == {}, codes
        filler = frozenset().union(*(t.filler for t in tables))
        assert {w for w in ratings if w in filler} == set(), codes


def test_the_survey_buttons_payloads_are_read_back() -> None:
    assert pressed(rate_payload(12, 4)) == Pressed(12, 4)
    assert pressed(no_comment_payload(3)) == Pressed(3, None)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "/affirm",
        # What Rasa reads of a typed "/survey_rate{…}" (the gateway drops the slash).
        'survey_rate{"survey":1,"rating":4}',
        '/survey_rate{"survey":1,"rating":9}',
        '/survey_rate{"survey":1,"rating":true}',
        '/survey_rate{"survey":"1","rating":4}',
        '/survey_rate{"survey":1}',
        "/survey_rate{not json}",
        '/survey_no_comment{"survey":null}',
    ],
)
def test_other_payloads_are_not_survey_buttons(payload: str | None) -> None:
    assert pressed(payload) is None


@pytest.mark.parametrize(
    "said",
    [
        "Ana was very helpful",
        "Quick and clear.",
        "too slow, but fine in the end",
        "The bot understood me straight away",
        "Muy amable y rápido",
        "Tardaron un poco, pero todo bien",
        "Спасибо, всё быстро",
        "Деньги пришли на следующий день",
    ],
)
def test_a_remark_is_a_comment(said: str) -> None:
    assert not reads_as_request(said)


@pytest.mark.parametrize(
    "said",
    [
        "where is my refund?",
        "I want a refund for 3000012345678901",
        "3000012345678901",
        "what about RF-7KQ2M9XA",
        "my e-mail is ada@example.com",
        "can you cancel it",
        "I need to talk to someone",
        "/affirm",
        "",
        "quiero otro reembolso",
        "¿Dónde está mi pedido",
        "necesito cancelar el pedido 3000012345678901",
        "где мой заказ",
        "хочу вернуть ещё один товар",
        "верните деньги за второй заказ",
    ],
)
def test_a_new_request_is_not_a_comment(said: str) -> None:
    assert reads_as_request(said)
