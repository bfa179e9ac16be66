"""The NLU review reads what the trained Rasa writes to its SQL tracker store, as it writes it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_server
from bot.insights.figures import Period
from bot.insights.nlu import nlu_fallback
from bot.review.tracker import NLU_FALLBACK, open_tracker, reading, user_messages
from bot.run import rasa_endpoints
from bot.settings import PROJECT_ROOT, Settings
from tests.conversation.conftest import Buyer

pytestmark = pytest.mark.rasa

SAID = [
    "hi",
    "blorp fnarg zzkk",
    "qwop qwop",
    # With the model of this writing: a fallback (0.49 for affirm, under the 0.5 threshold).
    "the thing",
    "I want a refund for order 8041235566701234",
    "/deny",
    "how long does a refund take?",
]


async def test_what_rasa_wrote_is_read_back_and_counted(
    model_path: Path, action_server: str, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    config = dict(rasa_endpoints(settings)["tracker_store"])
    store = TrackerStore.create(
        EndpointConfig(type=config.pop("type"), **config),
        domain=Domain.load(str(PROJECT_ROOT / "domain.yml")),
    )
    rasa_server.install()
    agent = Agent.load(
        model_path, tracker_store=store, action_endpoint=EndpointConfig(action_server)
    )
    buyer = Buyer(agent, "web-review", "c-1001")
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    for text in SAID:
        await buyer.say(text)
    after = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)

    engine = open_tracker(settings.tracker_store)
    with reading(engine) as connection:
        messages, _ = user_messages(connection, since=before, until=after, limit=100)
        counted = nlu_fallback(connection, period=Period(before, after))
    engine.dispose()

    # Every typed message, in order, with the parse Rasa made of it; the button payload is not.
    assert [m.text for m in messages] == [t for t in SAID if not t.startswith("/")]
    assert all(m.sender_id == "web-review" for m in messages)
    assert all(m.intent and m.confidence is not None and m.ranking for m in messages)
    assert messages[0].intent == "greet"
    [refund] = [m for m in messages if m.text.startswith("I want a refund")]
    assert ("order_id", "8041235566701234") in {(e["entity"], e["value"]) for e in refund.entities}
    # The rate counted in SQL is what the messages say, whatever the model made of the gibberish.
    fallbacks = [m for m in messages if m.intent == NLU_FALLBACK]
    assert (counted.messages, counted.fallbacks) == (6, len(fallbacks))
    for m in fallbacks:
        assert m.ranking[0].name == NLU_FALLBACK
        assert m.best_guess is not None
