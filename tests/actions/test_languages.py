"""A Spanish and a Russian buyer type their answers: the form reads them in their language.

The gateway puts the conversation's language in every message's metadata; the actions read it
(:func:`actions.common.language_of`), read the buyer's words with that language's words and
make their sentences from that language's catalogue.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.common import language_of
from actions.conversation import ActionPolicyAnswer
from actions.policy_answers import about_refunds, policy_topic, shop_question
from actions.refund_form import ValidateRefundForm
from actions.typed import corrects_amount, only_asks_to_stop, reads_as_a_request
from bot import messages
from bot.clock import utcnow
from bot.refunds.enums import OrderStatus
from tests.actions.conftest import make_tracker, responses, slot_values
from tests.factories import make_order

pytestmark = pytest.mark.usefixtures("action_database")


def new_order(session_factory: sessionmaker, **overrides: Any) -> str:
    with session_factory.begin() as session:
        overrides.setdefault("customer_id", "c-1")
        return str(make_order(session, now=utcnow(), **overrides).id)


async def validate(domain: dict[str, Any], **tracker_args: Any) -> tuple[dict[str, Any], list[Any]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateRefundForm().run(
        dispatcher, make_tracker(domain, **tracker_args), domain
    )
    return slot_values(events), responses(dispatcher)


# --- the conversation's language ------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "read"),
    [("es", "es"), ("ru", "ru"), ("en", "en"), (None, "en"), ("de", "en"), ("ES", "en")],
)
def test_the_language_is_the_one_in_the_latest_message(
    domain: dict[str, Any], language: str | None, read: str
) -> None:
    assert language_of(make_tracker(domain, text="hola", language=language)) == read


# --- typed answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "answer", "intent", "method"),
    [
        ("es", "prefiero devolverlo", "inform", "return_and_refund"),
        ("es", "sin devolverlo, me lo quedo", "inform", "no_return_refund"),
        # Words that name a method answer the question whatever NLU made of them.
        ("es", "me lo quedo", "out_of_scope", "no_return_refund"),
        ("ru", "верну товар", "inform", "return_and_refund"),
        ("ru", "без возврата", "nlu_fallback", "no_return_refund"),
        ("ru", "оставлю товар себе", "out_of_scope", "no_return_refund"),
    ],
)
async def test_a_typed_method_is_read_in_the_buyers_language(
    domain: dict[str, Any],
    session_factory: sessionmaker,
    language: str,
    answer: str,
    intent: str,
    method: str,
) -> None:
    order_id = new_order(session_factory, total=Decimal("15.00"))
    slots, said = await validate(
        domain,
        text=answer,
        intent=intent,
        slots={"order_id": order_id, "refund_draft_id": "d-1"},
        requested_slot="refund_method",
        language=language,
    )
    assert said == []
    assert slots["refund_method"] == method
    assert slots["requested_slot"] == "refund_amount"


@pytest.mark.parametrize(
    ("language", "currency", "status", "message", "method", "amount", "next_slot"),
    [
        (
            "es",
            "EUR",
            OrderStatus.SHIPPED,
            "quiero un reembolso de 12,50 € del pedido n° {order}, me lo quedo",
            "no_return_refund",
            "12.50",
            "refund_reason",
        ),
        (
            "ru",
            "RUB",
            OrderStatus.DELIVERED,
            "прошу вернуть 1 234,50 ₽ за заказ №{order}, верну товар, пришел сломанным",
            "return_and_refund",
            "1234.50",
            "refund_reason",
        ),
    ],
)
async def test_everything_in_a_request_is_read_in_the_buyers_language(
    domain: dict[str, Any],
    session_factory: sessionmaker,
    language: str,
    currency: str,
    status: OrderStatus,
    message: str,
    method: str,
    amount: str,
    next_slot: str,
) -> None:
    order_id = new_order(session_factory, status=status, currency=currency, total=Decimal("2000"))
    slots, said = await validate(
        domain,
        text=message.format(order=order_id),
        intent="request_refund",
        entities={"order_id": order_id},
        candidates={"order_id": order_id},
        language=language,
    )
    assert said == []
    assert (slots["order_id"], slots["refund_method"]) == (order_id, method)
    assert slots["refund_amount"] == amount
    assert slots["requested_slot"] == next_slot


async def test_an_english_buyers_words_are_not_read_as_spanish(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, total=Decimal("15.00"))
    slots, said = await validate(
        domain,
        text="me lo quedo",
        intent="out_of_scope",
        slots={"order_id": order_id, "refund_draft_id": "d-1"},
        requested_slot="refund_method",
    )
    assert said == []
    assert slots.get("refund_method") is None


@pytest.mark.parametrize(
    ("language", "answer", "intent", "method"),
    [
        # The only method offered before shipping, picked by a yes.
        ("es", "vale, ese", "nlu_fallback", "immediate_refund"),
        ("ru", "да, давайте", "inform", "immediate_refund"),
    ],
)
async def test_a_yes_picks_the_only_method_offered(
    domain: dict[str, Any],
    session_factory: sessionmaker,
    language: str,
    answer: str,
    intent: str,
    method: str,
) -> None:
    order_id = new_order(session_factory, status=OrderStatus.AWAITING_SHIPMENT)
    slots, said = await validate(
        domain,
        text=answer,
        intent=intent,
        slots={"order_id": order_id, "refund_draft_id": "d-1"},
        requested_slot="refund_method",
        language=language,
    )
    assert (slots["refund_method"], said) == (method, [])


@pytest.mark.parametrize(
    ("language", "currency", "answer", "amount"),
    [
        ("es", "EUR", "12,50 €", "12.50"),
        ("es", "EUR", "12,50 euros", "12.50"),
        ("es", "EUR", "la mitad", "21.25"),
        ("es", "EUR", "todo el importe", "42.50"),
        ("es", "EUR", "el total", "42.50"),
        ("es", "EUR", "veinte euros", "20.00"),
        ("es", "USD", "20 dólares", "20.00"),
        ("ru", "RUB", "1 234,50 ₽", "1234.50"),
        ("ru", "RUB", "300р", "300.00"),
        ("ru", "RUB", "500 рублей", "500.00"),
        ("ru", "RUB", "половину", "1250.00"),
        ("ru", "RUB", "всё", "2500.00"),
        ("ru", "RUB", "всю сумму", "2500.00"),
        ("ru", "USD", "20 баксов", "20.00"),
    ],
)
async def test_a_typed_amount_is_read_the_local_way(
    domain: dict[str, Any],
    session_factory: sessionmaker,
    language: str,
    currency: str,
    answer: str,
    amount: str,
) -> None:
    total = Decimal("2500.00") if currency == "RUB" else Decimal("42.50")
    order_id = new_order(session_factory, total=total, currency=currency)
    slots, said = await validate(
        domain,
        text=answer,
        slots={"order_id": order_id, "refund_method": "return_and_refund"},
        requested_slot="refund_amount",
        language=language,
    )
    assert (slots["refund_amount"], said) == (amount, [])


async def test_an_amount_given_before_the_method_is_read_in_the_buyers_language(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, total=Decimal("2500.00"), currency="RUB")
    slots, said = await validate(
        domain,
        text="верну товар",
        slots={"order_id": order_id, "refund_amount_text": "1 234,50 ₽"},
        requested_slot="refund_method",
        language="ru",
    )
    assert said == []
    assert (slots["refund_method"], slots["refund_amount"]) == ("return_and_refund", "1234.50")


@pytest.mark.parametrize(
    ("language", "answer", "category"),
    [
        ("es", "llegó roto", "damaged"),
        ("es", "no es lo que pedí", "wrong_item"),
        ("es", "talla equivocada", "wrong_item"),
        ("ru", "пришел сломанным", "damaged"),
        ("ru", "не тот товар", "wrong_item"),
        ("ru", "не соответствует описанию", "not_as_described"),
    ],
)
async def test_a_typed_reason_category_is_read_in_the_buyers_language(
    domain: dict[str, Any], session_factory: sessionmaker, language: str, answer: str, category: str
) -> None:
    order_id = new_order(session_factory)
    slots, said = await validate(
        domain,
        text=answer,
        intent="out_of_scope",
        slots={"order_id": order_id, "refund_method": "return_and_refund", "refund_amount": "50"},
        requested_slot="refund_reason_category",
        language=language,
    )
    assert (slots["refund_reason_category"], said) == (category, [])


@pytest.mark.parametrize(
    ("language", "answer", "cleared", "next_slot"),
    [
        ("es", "cambiar el importe", "refund_amount", "refund_amount"),
        ("es", "no, el motivo", "refund_reason", "refund_reason_category"),
        ("ru", "изменить сумму", "refund_amount", "refund_amount"),
        ("ru", "нет, поменять причину", "refund_reason", "refund_reason_category"),
    ],
)
async def test_the_field_to_change_is_read_in_the_buyers_language(
    domain: dict[str, Any],
    session_factory: sessionmaker,
    language: str,
    answer: str,
    cleared: str,
    next_slot: str,
) -> None:
    order_id = new_order(session_factory)
    draft = {
        "order_id": order_id,
        "refund_method": "return_and_refund",
        "refund_amount": "50.00",
        "refund_reason_category": "damaged",
        "refund_reason": "the zipper broke on the first day and the seam is torn",
        "refund_draft_id": "d-1",
    }
    slots, said = await validate(
        domain,
        text=answer,
        intent="deny",
        slots=draft,
        requested_slot="refund_confirmed",
        language=language,
    )
    assert said == []
    assert slots[cleared] is None
    assert slots["requested_slot"] == next_slot


@pytest.mark.parametrize(
    ("language", "answer"),
    [("es", "quiero hablar con una persona"), ("ru", "позовите оператора")],
)
async def test_asking_for_a_person_is_not_taken_for_the_description(
    domain: dict[str, Any], session_factory: sessionmaker, language: str, answer: str
) -> None:
    order_id = new_order(session_factory)
    slots, said = await validate(
        domain,
        text=answer,
        slots={"order_id": order_id, "refund_method": "return_and_refund", "refund_amount": "50"},
        requested_slot="refund_reason",
        language=language,
    )
    assert said == []
    assert slots.get("refund_reason") is None


@pytest.mark.parametrize(
    ("language", "said", "asks"),
    [
        ("es", "quiero un reembolso del pedido 8123456789012345", True),
        ("es", "¿dónde está mi pedido 8123456789012345?", False),
        ("ru", "хочу вернуть деньги за заказ №8123456789012345", True),
        ("ru", "где мой заказ №8123456789012345?", False),
        ("es", "el pedido 8123456789012345 aún no se envió, quiero cancelarlo", True),
        ("ru", "заказ №8123456789012345 до сих пор не отправлен, хочу отменить", True),
    ],
)
def test_a_request_in_so_many_words(language: str, said: str, asks: bool) -> None:
    assert reads_as_a_request(said, language) is asks


def test_stops_and_corrections_in_the_buyers_language() -> None:
    assert only_asks_to_stop("olvídalo", "es")
    assert only_asks_to_stop("хватит", "ru")
    assert not only_asks_to_stop("ya no lo necesito, llegó tarde", "es")
    assert corrects_amount("en realidad que sean 10 euros", "es")
    assert corrects_amount("точнее, пусть будет 500 рублей", "ru")
    assert not corrects_amount("en realidad llegó roto", "es")


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("es", "¿ya me reembolsaron parte de este pedido?"),
        ("ru", "вы уже вернули часть денег за этот заказ?"),
    ],
)
async def test_a_question_about_earlier_refunds_is_answered_at_the_method_question(
    domain: dict[str, Any], session_factory: sessionmaker, language: str, question: str
) -> None:
    order_id = new_order(session_factory)
    slots, said = await validate(
        domain,
        text=question,
        slots={"order_id": order_id, "refund_draft_id": "d-1"},
        requested_slot="refund_method",
        language=language,
    )
    assert said == ["utter_no_applications_for_order"]
    assert slots["refund_method"] is None


# --- questions about the policy -------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "question", "topic"),
    [
        ("es", "¿cuántos días tengo para devolverlo?", "utter_policy_deadlines"),
        ("es", "¿quién paga el envío de vuelta?", "utter_policy_return_shipping"),
        ("es", "¿puedo quedármelo y recibir el reembolso?", "utter_policy_no_return"),
        ("es", "¿cómo funcionan los reembolsos?", "utter_policy_overview"),
        ("ru", "сколько дней на возврат?", "utter_policy_deadlines"),
        ("ru", "кто платит за обратную доставку?", "utter_policy_return_shipping"),
        ("ru", "положена ли компенсация за опоздание?", "utter_policy_compensation"),
        ("ru", "как работает возврат?", "utter_policy_overview"),
        ("es", "¿puedo pagar con PayPal?", "utter_out_of_scope"),
        ("ru", "можно оплатить картой?", "utter_out_of_scope"),
    ],
)
async def test_a_policy_question_is_answered_in_the_buyers_language(
    domain: dict[str, Any], language: str, question: str, topic: str
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        domain, text=question, intent="ask_refund_policy", active_loop=None, language=language
    )
    assert await ActionPolicyAnswer().run(dispatcher, tracker, domain) == []
    assert responses(dispatcher) == [topic]


def test_policy_words_of_each_language() -> None:
    assert policy_topic("¿se puede hacer un reembolso parcial?", "es") == "utter_policy_partial"
    assert policy_topic("можно отменить до отправки?", "ru") == "utter_policy_immediate"
    assert about_refunds("¿qué pasa si el vendedor no responde?", "es")
    assert not about_refunds("¿qué tiempo hace hoy?", "es")
    assert shop_question("¿tenéis un código de descuento?", "es")
    assert not shop_question("¿el cupón se devuelve con el reembolso?", "es")
    assert shop_question("где ввести промокод?", "ru")
    # Another language's words are not read as English.
    assert policy_topic("сколько дней на возврат?") is None


# --- the catalogue of the buyer's language ----------------------------------------------------


@pytest.mark.parametrize("language", ["es", "ru", "en", "de"])
async def test_a_refusal_is_written_from_the_buyers_catalogue(
    domain: dict[str, Any], session_factory: sessionmaker, language: str
) -> None:
    """The refusal is the catalogue's sentence in the buyer's language, or fails without one.

    Until a language's catalogue exists, asking it for a sentence is a KeyError, and so is
    the action's refusal: the language reached the catalogue rather than English being used.
    """
    order_id = new_order(session_factory)
    run = validate(
        domain,
        text="la lámpara de escritorio",
        slots={"order_id": order_id},
        requested_slot="refund_method",
        language=language,
    )
    spoken = language if language in messages.CATALOGUES else None
    if spoken is None and language != "de":
        with pytest.raises(KeyError):
            await run
        return
    slots, said = await run
    assert said == [messages.text("form.choose_method", language=spoken or "en")]
    assert slots["refund_method"] is None
