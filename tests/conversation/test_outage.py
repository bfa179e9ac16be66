"""A turn whose actions could not run is not done: nothing of it is kept, it can be sent again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rasa.core.agent import Agent
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.orm import sessionmaker

from bot import rasa_server
from bot.clock import utcnow
from tests.conversation.conftest import Buyer, free_port
from tests.factories import make_order

pytestmark = pytest.mark.rasa


async def user_texts(agent: Agent, sender: str) -> list[str]:
    tracker = await agent.tracker_store.retrieve(sender)
    if tracker is None:
        return []
    return [e.text for e in tracker.events if e.type_name == "user"]


async def test_an_unreachable_action_server_fails_the_turn_before_it_is_kept(
    agent: Agent, make_buyer: object, demo_sessions: sessionmaker
) -> None:
    with demo_sessions.begin() as session:
        order = make_order(session, customer_id="c-1001", now=utcnow(), total=Decimal("15.00"))
        request = f"I want a refund for order {order.id}"
    buyer: Buyer = make_buyer("c-1001")  # type: ignore[operator]
    processor = agent.processor
    assert processor is not None
    working = processor.action_endpoint
    processor.action_endpoint = EndpointConfig(f"http://127.0.0.1:{free_port()}/webhook")
    try:
        with pytest.raises(rasa_server.ActionServerUnavailable):
            await buyer.say(request)
        with pytest.raises(rasa_server.ActionServerUnavailable):
            await buyer.say(request)
    finally:
        processor.action_endpoint = working
    assert await user_texts(agent, buyer.sender) == []

    # The gateway sends the message again once the action server is back: answered once.
    replies = await buyer.texts(request)
    assert "How would you like to be refunded?" in replies
    assert await user_texts(agent, buyer.sender) == [request]
    assert "How much would you like back?" in await buyer.texts("no-return refund")
