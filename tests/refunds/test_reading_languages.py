"""Reading what Spanish- and Russian-speaking buyers type, with each language's own words.

Order numbers, references and e-mails read the same in every language; methods, amounts,
reasons, the fields of the read-back and a request for a person are read with the words of the
conversation's language (and English's, which buyers mix in).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency, format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.languages import DEFAULT, LANGUAGES
from bot.refunds import reading
from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.errors import AmountError
from bot.refunds.words import TABLES, readable, words

ORDER = "8123456789012345"

# --- refund methods -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "method"),
    [
        ("es", "sin devolverlo", RefundMethod.NO_RETURN),
        ("es", "me lo quedo", RefundMethod.NO_RETURN),
        ("es", "reembolso sin devolución", RefundMethod.NO_RETURN),
        ("es", "no quiero devolverlo", RefundMethod.NO_RETURN),
        ("es", "devolverlo", RefundMethod.RETURN_AND_REFUND),
        ("es", "prefiero enviarlo de vuelta", RefundMethod.RETURN_AND_REFUND),
        ("es", "reembolso con devolución", RefundMethod.RETURN_AND_REFUND),
        ("es", "cancelar el pedido", RefundMethod.IMMEDIATE),
        ("es", "reembolso inmediato", RefundMethod.IMMEDIATE),
        # The money back is the refund itself, not the item going back.
        ("es", "quiero la devolución de mi dinero", None),
        ("es", "la lámpara de escritorio", None),
        ("ru", "без возврата", RefundMethod.NO_RETURN),
        ("ru", "оставлю товар себе", RefundMethod.NO_RETURN),
        ("ru", "не хочу ничего отправлять", RefundMethod.NO_RETURN),
        ("ru", "верну товар", RefundMethod.RETURN_AND_REFUND),
        ("ru", "отправлю обратно", RefundMethod.RETURN_AND_REFUND),
        ("ru", "с возвратом товара", RefundMethod.RETURN_AND_REFUND),
        ("ru", "отменить заказ", RefundMethod.IMMEDIATE),
        ("ru", "верните деньги", None),
        ("ru", "хочу возврат денег", None),
        ("ru", "настольная лампа", None),
        # English words read in every language: buyers mix them in.
        ("es", "no return", RefundMethod.NO_RETURN),
        ("ru", "return_and_refund", RefundMethod.RETURN_AND_REFUND),
    ],
)
def test_method_from_text(language: str, text: str, method: RefundMethod | None) -> None:
    assert reading.method_from_text(text, language) is method


def test_another_languages_words_are_not_read_as_english() -> None:
    assert reading.method_from_text("me lo quedo") is None
    assert reading.method_from_text("оставлю товар себе") is None


# --- amounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "value", "currency"),
    [
        ("es", "12,50 €", "12.50", "EUR"),
        ("es", "12,50 euros", "12.50", "EUR"),
        ("es", "1.234,50", "1234.50", None),
        ("es", "1.234", "1234", None),
        ("es", "20 dólares", "20", "$"),
        ("es", "20 dolares", "20", "$"),
        ("es", "quiero 15 pavos", "15", "EUR"),
        # Mexico writes the decimal point: what Spain's format cannot read is read by position.
        ("es", "12.50", "12.50", None),
        ("es", f"reembolso de 12,50 del pedido n° {ORDER}", "12.50", None),
        ("ru", "1 234,50 ₽", "1234.50", "RUB"),
        ("ru", "1\u00a0234,50 ₽", "1234.50", "RUB"),
        ("ru", "500 руб", "500", "RUB"),
        ("ru", "500 руб.", "500", "RUB"),
        ("ru", "500 рублей", "500", "RUB"),
        ("ru", "300р", "300", "RUB"),
        ("ru", "12,50 р.", "12.50", "RUB"),
        ("ru", "20 баксов", "20", "$"),
        ("ru", "20 долларов", "20", "$"),
        ("ru", "15 евро", "15", "EUR"),
        ("ru", f"верните 300р за заказ №{ORDER}", "300", "RUB"),
        ("en", "12,50 €", "12.50", "EUR"),
    ],
)
def test_amounts_written_the_local_way(
    language: str, text: str, value: str, currency: str | None
) -> None:
    assert reading.parse_amount(text, language) == reading.AmountRequest(
        value=Decimal(value), currency=currency
    )


MONEY = st.decimals(
    min_value=Decimal("0.00"),
    max_value=Decimal("9999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


# No example database: nothing written into the working tree.
@settings(database=None, max_examples=200)
@given(amount=MONEY, language=st.sampled_from(["es", "ru"]))
def test_money_written_by_the_locale_reads_back_exactly(amount: Decimal, language: str) -> None:
    """What Babel writes for the buyer's locale, with or without grouping, is read back."""
    currency = {"es": "EUR", "ru": "RUB"}[language]
    for written in (
        format_currency(amount, currency, locale=language),
        format_decimal(amount, format="#,##0.00", locale=language) + " " + currency.lower(),
        format_decimal(amount, format="0.00", locale=language),
    ):
        request = reading.parse_amount(written, language)
        assert (request.value, request.fraction) == (amount, None), written


@pytest.mark.parametrize(
    ("language", "text", "fraction"),
    [
        ("es", "todo", "1"),
        ("es", "todo el importe", "1"),
        ("es", "el total", "1"),
        ("es", "lo que queda", "1"),
        ("es", "la mitad", "0.5"),
        ("es", "50%", "0.5"),
        ("es", "30 %", "0.3"),
        ("ru", "всё", "1"),
        ("ru", "все", "1"),
        ("ru", "всю сумму", "1"),
        ("ru", "полностью", "1"),
        ("ru", "половину", "0.5"),
        ("ru", "50%", "0.5"),
        ("ru", "12,5%", "0.125"),
    ],
)
def test_the_whole_amount_and_shares(language: str, text: str, fraction: str) -> None:
    request = reading.parse_amount(text, language)
    assert (request.value, request.fraction) == (None, Decimal(fraction))


@pytest.mark.parametrize(
    ("language", "text", "value"),
    [
        ("es", "veinte", "20"),
        ("es", "veinte euros", "20"),
        ("es", "treinta y cinco", "35"),
        ("es", "veintidós dólares", "22"),
        ("es", "veintidos", "22"),
        ("es", "ciento veinte", "120"),
        ("es", "doce cincuenta", "12.50"),
        ("es", "doce euros con cincuenta", "12.50"),
        ("es", "diez euros y cinco céntimos", "10.05"),
        ("es", "mil quinientos", "1500"),
        ("es", "uno con cincuenta", "1.50"),
        ("es", "dos mil", "2000"),
        ("ru", "двадцать", "20"),
        ("ru", "двадцать пять", "25"),
        ("ru", "двести рублей", "200"),
        ("ru", "сто двадцать пять рублей пятьдесят копеек", "125.50"),
        ("ru", "две тысячи", "2000"),
        ("ru", "тысяча рублей", "1000"),
        ("ru", "один рубль", "1"),
    ],
)
def test_numbers_in_words(language: str, text: str, value: str) -> None:
    assert reading.number_from_words(text, language) == Decimal(value)
    assert reading.parse_amount(text, language).value == Decimal(value)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("es", "quiero uno"),  # "one" alone is not money ("that one")
        ("es", "quiero un reembolso"),  # "un" is the article
        ("ru", "один"),
        ("ru", "хочу вернуть"),
    ],
)
def test_words_that_are_not_an_amount(language: str, text: str) -> None:
    assert reading.number_from_words(text, language) is None


@pytest.mark.parametrize(
    ("language", "text", "code"),
    [
        ("es", "mucho dinero", "not_a_number"),
        ("ru", "много денег", "not_a_number"),
        ("es", "-5 €", "negative"),
        ("ru", "150%", "percent_over_100"),
    ],
)
def test_amount_errors(language: str, text: str, code: str) -> None:
    with pytest.raises(AmountError) as e:
        reading.parse_amount(text, language)
    assert e.value.code == code


def test_the_currency_must_still_match_the_order() -> None:
    assert reading.parse_amount("300р", "ru").resolve(Decimal("900"), "RUB") == Decimal("300")
    with pytest.raises(AmountError) as e:
        reading.parse_amount("20 баксов", "ru").resolve(Decimal("900"), "RUB")
    assert e.value.code == "currency_mismatch"


@pytest.mark.parametrize(
    ("language", "text", "found"),
    [
        ("es", "en realidad que sean 10 euros", "10 euros"),
        ("es", "mejor 12,50 €", "12,50 €"),
        ("ru", "лучше 500 руб", "500 руб"),
        ("ru", "пусть будет 1 500 рублей", "1 500 рублей"),
        ("ru", "в 2 часа", None),
    ],
)
def test_money_in_passing(language: str, text: str, found: str | None) -> None:
    assert reading.money_in_passing(text, language) == found


@pytest.mark.parametrize(
    ("language", "text", "phrase"),
    [
        ("es", f"quiero un reembolso total del pedido {ORDER}", "reembolso total"),
        ("es", "devuélvanme la mitad", "la mitad"),
        ("ru", f"хочу полный возврат по заказу {ORDER}", "полный возврат"),
        ("ru", "верните половину", "половину"),
        ("ru", "где мой заказ", None),
    ],
)
def test_amount_phrases_in_a_request(language: str, text: str, phrase: str | None) -> None:
    assert reading.amount_phrase(text, language) == phrase


def test_names_everything() -> None:
    assert reading.names_everything("sí, todo", "es")
    assert reading.names_everything("да, всю сумму", "ru")
    assert not reading.names_everything("el segundo", "es")


# --- reasons ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "category"),
    [
        ("es", "llegó roto", ReasonCategory.DAMAGED),
        ("es", "la caja venía aplastada", ReasonCategory.DAMAGED),
        ("es", "no es lo que pedí", ReasonCategory.WRONG_ITEM),
        ("es", "talla equivocada", ReasonCategory.WRONG_ITEM),
        ("es", "me enviaron otro color", ReasonCategory.WRONG_ITEM),
        ("es", "no es como en la foto", ReasonCategory.NOT_AS_DESCRIBED),
        ("es", "es una imitación", ReasonCategory.NOT_AS_DESCRIBED),
        ("es", "dejó de funcionar a los dos días", ReasonCategory.QUALITY_PROBLEM),
        ("es", "problema de calidad", ReasonCategory.QUALITY_PROBLEM),
        ("es", "otro", ReasonCategory.OTHER),
        ("es", "otro motivo", ReasonCategory.OTHER),
        ("es", "cambié de opinión", None),
        ("ru", "пришел сломанным", ReasonCategory.DAMAGED),
        ("ru", "пришёл разбитый экран", ReasonCategory.DAMAGED),
        ("ru", "не тот товар", ReasonCategory.WRONG_ITEM),
        ("ru", "прислали другой цвет", ReasonCategory.WRONG_ITEM),
        ("ru", "не соответствует описанию", ReasonCategory.NOT_AS_DESCRIBED),
        ("ru", "это подделка", ReasonCategory.NOT_AS_DESCRIBED),
        ("ru", "не работает", ReasonCategory.QUALITY_PROBLEM),
        ("ru", "брак", ReasonCategory.QUALITY_PROBLEM),
        ("ru", "другое", ReasonCategory.OTHER),
        ("ru", "передумал", None),
        # The categories' own names (a button's payload) read in every language.
        ("ru", "wrong_item", ReasonCategory.WRONG_ITEM),
    ],
)
def test_classify_reason(language: str, text: str, category: ReasonCategory | None) -> None:
    assert reading.classify_reason(text, language) is category


@pytest.mark.parametrize(
    ("language", "text", "clause"),
    [
        ("es", f"Quiero un reembolso del pedido n° {ORDER}, llegó roto", "llegó roto"),
        ("es", f"pedido {ORDER}: nunca llegó", "nunca llegó"),
        ("es", "quiero un reembolso", None),
        ("ru", f"Хочу вернуть деньги за заказ №{ORDER}, пришел сломанным", "пришел сломанным"),
        ("ru", f"заказ {ORDER} так и не пришел", "так и не пришел"),
        ("ru", "хочу вернуть деньги", None),
        ("ru", "пальто маломерит", "пальто маломерит"),
        ("es", "no me gusta el color", "no me gusta el color"),
    ],
)
def test_problem_clause(language: str, text: str, clause: str | None) -> None:
    assert reading.problem_clause(text, language) == clause


# --- the read-back and a person -----------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "field"),
    [
        ("es", "cambiar el importe", "refund_amount"),
        ("es", "quiero cambiar el motivo", "refund_reason"),
        ("es", "el método", "refund_method"),
        ("es", "me equivoqué de pedido", "order_id"),
        ("es", "sí", None),
        ("ru", "изменить сумму", "refund_amount"),
        ("ru", "изменить сумму заказа", "refund_amount"),
        ("ru", "поменять причину", "refund_reason"),
        ("ru", "другой способ", "refund_method"),
        ("ru", "не тот заказ", "order_id"),
        ("ru", "да", None),
    ],
)
def test_field_named(language: str, text: str, field: str | None) -> None:
    assert reading.field_named(text, language) == field


@pytest.mark.parametrize(
    ("language", "text", "asks"),
    [
        ("es", "cambiar el importe", True),
        ("es", "quiero modificar el motivo", True),
        ("es", "todo bien", False),
        ("ru", "изменить сумму", True),
        ("ru", "поменяйте причину", True),
        ("ru", "всё верно", False),
    ],
)
def test_asks_to_change(language: str, text: str, asks: bool) -> None:
    assert reading.asks_to_change(text, language) is asks


@pytest.mark.parametrize(
    ("language", "text", "wants"),
    [
        ("es", "quiero hablar con una persona", True),
        ("es", "pásame con un agente", True),
        ("es", "atención al cliente por favor", True),
        ("es", "quiero un reembolso", False),
        ("ru", "позовите оператора", True),
        ("ru", "хочу поговорить с живым человеком", True),
        ("ru", "соедините с живым человеком", True),
        ("ru", "хочу вернуть деньги", False),
        ("es", "I want a human", True),
    ],
)
def test_wants_a_person(language: str, text: str, wants: bool) -> None:
    assert reading.wants_a_person(text, language) is wants


# --- what reads the same in every language --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"pedido n° {ORDER}",
        f"pedido nº{ORDER} llegó roto",
        f"mi orden #{ORDER}",
        "pedido 8123 4567 8901 2345",
        f"заказ №{ORDER}",
        f"заказ № {ORDER} пришел сломанным",
        "номер заказа 8123-4567-8901-2345",
    ],
)
def test_order_numbers_in_every_language(text: str) -> None:
    assert reading.find_order_id(text) == ORDER


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("¿cómo va mi solicitud RF-6P38WEBJ?", "RF-6P38WEBJ"),
        ("какой статус заявки rf6p38webj?", "RF-6P38WEBJ"),
        ("заявка №RF-6P38WEBJ", "RF-6P38WEBJ"),
    ],
)
def test_references_in_every_language(text: str, reference: str) -> None:
    assert reading.find_reference(text) == reference


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("mi correo es ana.lopez@example.com, gracias", "ana.lopez@example.com"),
        ("почта: ivan@example.ru.", "ivan@example.ru"),
    ],
)
def test_emails_in_every_language(text: str, email: str) -> None:
    assert reading.find_email(text) == email


# --- the tables -----------------------------------------------------------------------------


def test_every_language_has_its_words() -> None:
    assert set(TABLES) == set(LANGUAGES)
    assert {words(language).locale for language in LANGUAGES} == set(LANGUAGES)


def test_a_language_is_read_with_its_words_then_english() -> None:
    assert readable("es") == (TABLES["es"], TABLES[DEFAULT])
    assert readable(DEFAULT) == (TABLES[DEFAULT],)
    # A language without words of its own is read as English.
    assert readable("de") == (TABLES[DEFAULT],)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_table_lists_three_ordinals_and_every_field(language: str) -> None:
    table = words(language)
    assert len(table.ordinals) == 3
    assert set(table.change) == {"order_id", "refund_method", "refund_amount", "refund_reason"}
    assert {method for method, _ in table.methods} == {
        RefundMethod.RETURN_AND_REFUND,
        RefundMethod.IMMEDIATE,
    }
    assert table.currency.search("") is None


@pytest.mark.parametrize(
    ("language", "text", "accepts"),
    [
        ("es", "sí", True),
        ("es", "vale, ese", True),
        ("es", "esa opción", True),
        ("es", "eso no funciona", False),
        ("ru", "да", True),
        ("ru", "давайте этот", True),
        ("ru", "этот вариант", True),
        ("ru", "это пришло сломанным", False),
    ],
)
def test_words_that_accept_what_was_offered(language: str, text: str, accepts: bool) -> None:
    assert any(w.affirmative.search(text) for w in readable(language)) is accepts
