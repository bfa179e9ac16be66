"""Reading the buyer's answers to the survey: buttons, typed numbers, words, stars, comments."""

from __future__ import annotations

import pytest

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
    ],
)
def test_a_new_request_is_not_a_comment(said: str) -> None:
    assert reads_as_request(said)
