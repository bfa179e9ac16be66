"""Rasa answers in the conversation's language: ``bot.nlg.LanguageResponses`` with the real domain.

The generator is built the way Rasa builds it, from the ``nlg`` of the endpoints file, with the
domain the model is trained on; trackers are Rasa's own, with the language in the metadata of the
buyer's message as the gateway sends it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.contract import LANGUAGE
from bot.messages import money
from bot.nlg import LanguageResponses, conversation_language
from bot.run import rasa_endpoints
from bot.settings import PROJECT_ROOT, Settings


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture(scope="module")
def nlg(domain: Domain) -> NaturalLanguageGenerator:
    endpoints = AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.yml"))
    return NaturalLanguageGenerator.create(endpoints.nlg, domain)


def tracker(domain: Domain, *events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("buyer-1", list(events), slots=domain.slots)


def said(text: str, language: Any = None) -> UserUttered:
    metadata = {"customer_id": "c-1"} if language is None else {LANGUAGE: language}
    return UserUttered(text, intent={"name": "inform", "confidence": 1.0}, metadata=metadata)


def test_every_endpoints_file_rasa_reads_builds_the_language_generator(
    nlg: NaturalLanguageGenerator, tmp_path: Any
) -> None:
    assert isinstance(nlg, LanguageResponses)
    settings = Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path)})
    assert rasa_endpoints(settings)["nlg"] == {"type": "bot.nlg.LanguageResponses"}


async def test_a_server_builds_it_before_the_model_and_its_domain(domain: Domain) -> None:
    """``rasa run`` makes the agent, then loads the model, whose domain gives the responses."""
    endpoints = AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.yml"))
    agent = Agent(generator=endpoints.nlg)  # as rasa.core.agent.load_agent does
    assert isinstance(agent.nlg, LanguageResponses)
    buyer = tracker(domain, said("hola", "es"))
    assert await agent.nlg.generate("utter_goodbye", buyer, "rest") is None
    agent.nlg.responses = domain.responses  # as Agent.load_model does with the model's domain
    answer = await agent.nlg.generate("utter_goodbye", buyer, "rest")
    assert answer == {"text": "¡Hasta luego, y gracias por comprar con nosotros!"}


async def test_spanish_with_slots_filled(nlg: NaturalLanguageGenerator, domain: Domain) -> None:
    buyer = tracker(domain, said("hola", "es"), SlotSet("order_id", "8041235566701234"))
    answer = await nlg.generate("utter_order_not_found", buyer, "rest")
    assert answer is not None
    assert answer["text"] == (
        "No encuentro el pedido 8041235566701234 entre tus pedidos. Revisa el número, por favor "
        "(de 12 a 19 dígitos)."
    )


async def test_an_actions_values_and_the_buttons_payloads(
    nlg: NaturalLanguageGenerator, domain: Domain
) -> None:
    buyer = tracker(domain, said("здравствуйте", "ru"))
    balance = money(Decimal("12.50"), "EUR", language="ru")
    answer = await nlg.generate("utter_amount_exceeds_balance", buyer, "rest", balance=balance)
    assert answer is not None
    assert answer["text"] == (
        "Это больше, чем можно вернуть по этому заказу: осталось не больше 12,50\xa0€."
    )
    buttons = await nlg.generate("utter_what_to_change", buyer, "rest")
    assert buttons is not None
    assert [b["title"] for b in buttons["buttons"]] == ["Заказ", "Способ", "Сумму", "Причину"]
    assert buttons["buttons"][0]["payload"] == '/inform{"change_field":"order_id"}'


async def test_a_condition_on_a_slot_chooses_the_variation_in_every_language(
    nlg: NaturalLanguageGenerator, domain: Domain
) -> None:
    returning = SlotSet("refund_method", "return_and_refund")
    spanish = await nlg.generate(
        "utter_ask_refund_reason", tracker(domain, said("x", "es"), returning), "rest"
    )
    plain = await nlg.generate("utter_ask_refund_reason", tracker(domain, said("x", "es")), "rest")
    assert spanish is not None
    assert plain is not None
    assert spanish["text"].startswith("Describe el problema en una o dos frases")
    assert plain["text"] == "En pocas palabras, ¿por qué quieres el reembolso?"


@pytest.mark.parametrize("language", ["en", "de", None, 7])
async def test_english_for_english_an_unknown_or_no_language(
    nlg: NaturalLanguageGenerator, domain: Domain, language: Any
) -> None:
    answer = await nlg.generate("utter_goodbye", tracker(domain, said("bye", language)), "rest")
    assert answer == {"text": "Goodbye, and thanks for shopping with us."}


def test_a_message_without_metadata_keeps_the_language_of_the_one_before(domain: Domain) -> None:
    """An intent Rasa is asked to trigger carries no metadata; the conversation stays Spanish."""
    triggered = UserUttered(intent={"name": "greet", "confidence": 1.0})
    events = [said("hola", "es"), ActionExecuted("action_listen"), triggered]
    assert conversation_language(tracker(domain, *events)) == "es"
    assert conversation_language(tracker(domain, said("hola", "ru"), said("hello", "en"))) == "en"
    assert conversation_language(tracker(domain)) == "en"


async def test_a_response_that_does_not_exist_is_none_in_every_language(
    nlg: NaturalLanguageGenerator, domain: Domain
) -> None:
    assert (
        await nlg.generate("utter_nothing_like_it", tracker(domain, said("x", "es")), "rest")
        is None
    )
