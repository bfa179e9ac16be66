"""The language choice: lingua on buyers' sentences, requests to switch, the rules of a turn."""

from __future__ import annotations

import pytest

from bot import language_choice
from bot.language_choice import Choice, Source, choose, detector, hinted, requested_language
from bot.languages import DEFAULT, LANGUAGES


@pytest.mark.parametrize(
    ("said", "language"),
    [
        ("Hola, quiero un reembolso de mi pedido", "es"),
        ("mi pedido no llegó", "es"),
        ("¿dónde está mi pedido 8041235566701234?", "es"),
        ("el producto llegó roto", "es"),
        ("Здравствуйте, хочу вернуть деньги за заказ", "ru"),
        ("где мой заказ", "ru"),
        ("товар сломан", "ru"),
        ("my order never arrived", "en"),
        ("I want my money back", "en"),
        ("The lamp arrived broken, order 8041235566701234", "en"),
    ],
)
def test_buyers_sentences_are_told_apart(said: str, language: str) -> None:
    assert detector().detect(said) == language


@pytest.mark.parametrize(
    "said",
    [
        "ok",
        "okay",
        "hola",
        "да",
        "yes",
        "12345678901234",
        "RF-ABCD2345",
        "maria.lopez@example.com",
        "8041235566701234 ada@example.com",
        "https://shop.example.com/orders/8041235566701234",
        "",
        "👍",
    ],
)
def test_short_or_language_free_texts_tell_nothing(said: str) -> None:
    assert detector().detect(said) is None


@pytest.mark.parametrize(
    ("said", "language"),
    [
        ("Ich möchte eine Rückerstattung für meine Bestellung", "de"),
        ("Mon colis n'est jamais arrivé, je veux être remboursé", "fr"),
        ("我的订单还没有到，我要退款", "zh"),
        # Told by letters of their own, not by a model:
        ("Коли я отримаю свої гроші назад?", "uk"),
        ("Доброго дня, моє замовлення досі не прийшло", "uk"),
        ("Ürün kırık geldi, ne yapmalıyım?", "tr"),
        ("Siparişim hâlâ gelmedi, paramı geri istiyorum", "tr"),
        ("Dzień dobry, moje zamówienie nie dotarło", "pl"),
        ("Kiedy otrzymam moje pieniądze?", "pl"),
    ],
)
def test_languages_we_do_not_speak_are_recognised(said: str, language: str) -> None:
    assert language not in LANGUAGES
    assert detector().detect(said) == language


@pytest.mark.parametrize(
    "said",
    [
        "Mijn bestelling is niet aangekomen",
        "Ik wil graag mijn geld terug, het product is kapot",
        "Il mio ordine non è mai arrivato",
        "Buongiorno, vorrei un rimborso per il mio ordine",
    ],
)
def test_a_language_the_detector_does_not_know_is_not_taken_for_ours(said: str) -> None:
    assert detector().detect(said) not in LANGUAGES


@pytest.mark.parametrize("said", ["can i tlak to a humna plz", "wher is my ordr, its been 3 weks"])
def test_english_with_typos_is_not_taken_for_another_of_ours(said: str) -> None:
    assert detector().detect(said) in (None, "en")


def test_russian_is_not_taken_for_ukrainian() -> None:
    assert detector().detect("Добрый день, мой заказ до сих пор не пришёл") == "ru"


def test_a_language_close_to_ours_must_be_clear_to_count_as_another() -> None:
    # Portuguese close to Spanish: not sure enough to answer "we do not speak it".
    assert detector().detect("Quero um reembolso") is None


@pytest.mark.parametrize(
    ("said", "language"),
    [
        ("can you answer in English?", "en"),
        ("English please", "en"),
        ("¿hablas español?", "es"),
        ("en español por favor", "es"),
        ("speak spanish", "es"),
        ("Habla espanol", "es"),
        ("по-русски пожалуйста", "ru"),
        ("можно на русском", "ru"),
        ("говорите по-английски?", "en"),
        ("¿puedes responder en inglés?", "en"),
        ("Russian", "ru"),
        ("Could you please write to me in Spanish", "es"),
        ("Do you speak English?", "en"),
        ("хочу на русском", "ru"),
        ("давайте по-русски", "ru"),
        ("говорите со мной по-испански", "es"),
    ],
)
def test_requests_for_a_language(said: str, language: str) -> None:
    assert requested_language(said) == language


@pytest.mark.parametrize(
    "said",
    [
        "I bought a Spanish guitar and it broke",
        "my Russian doll arrived broken, I want a refund please",
        "English or Spanish",
        "hola",
        "in the box",
        "the manual is not in English",
        "it came with a Spanish plug",
    ],
)
def test_naming_a_language_is_not_always_a_request(said: str) -> None:
    assert requested_language(said) is None


@pytest.mark.parametrize(
    ("hint", "language"),
    [("es", "es"), ("es-MX", "es"), ("ru_RU", "ru"), ("EN-gb", "en"), ("pt-BR", None), ("", None)],
)
def test_channel_hints(hint: str, language: str | None) -> None:
    assert hinted(hint) == language
    assert language_choice.starting(hint) == (
        (language, Source.HINT) if language else (DEFAULT, Source.DEFAULT)
    )


def test_the_first_messages_set_the_language_then_it_sticks() -> None:
    first = choose("en", Source.DEFAULT, text="ok", position=lambda: 1)
    assert first == Choice("en", Source.DEFAULT)
    second = choose(
        "en", Source.DEFAULT, text="Quiero un reembolso de mi pedido", position=lambda: 2
    )
    assert second == Choice("es", Source.DETECTED)
    assert not second.answered_by_gateway
    third = choose("es", Source.DETECTED, text="I want my money back", position=lambda: 3)
    assert third == Choice("es", Source.DETECTED)

    def uncounted() -> int:
        raise AssertionError("a settled language needs no count of the messages")

    later = choose("es", Source.DETECTED, text="I want my money back", position=uncounted)
    assert later == Choice("es", Source.DETECTED)


def test_a_hint_gives_way_to_the_first_messages_but_not_to_later_ones() -> None:
    assert choose("es", Source.HINT, text="I want my money back", position=lambda: 1) == Choice(
        "en", Source.DETECTED
    )
    late = choose("es", Source.HINT, text="I want my money back", position=lambda: 4)
    assert late == Choice("es", Source.HINT)


def test_a_request_switches_at_any_time() -> None:
    asked = choose("es", Source.DETECTED, text="can you answer in English?", position=lambda: 9)
    assert asked == Choice("en", Source.ASKED, asked=True)
    assert asked.answered_by_gateway


def test_a_language_we_do_not_speak_is_answered_by_the_gateway() -> None:
    said = "Ich möchte eine Rückerstattung für meine Bestellung"
    found = choose("en", Source.DEFAULT, text=said, position=lambda: 1)
    assert found == Choice("en", Source.DEFAULT, unsupported="de")
    assert found.answered_by_gateway


def test_the_languages_we_speak_are_named_in_themselves() -> None:
    assert language_choice.spoken() == "English, español, and русский"
