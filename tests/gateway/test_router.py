from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway import keys
from bot.gateway.app import create_app
from bot.gateway.conversations import ConversationInfo
from bot.gateway.models import Channel, Conversation, TranscriptMessage
from bot.gateway.outbound import Outbound
from bot.gateway.rasa import RasaClient
from bot.gateway.router import ROUTE_ATTEMPTS, Router
from bot.gateway.transcript import Inbound, Message
from bot.gateway.watch import NoWatch, TurnWatch
from bot.messages import text
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.gateway.doubles import RasaDouble, wait_until, with_gateway
from tests.gateway.webchat_client import bot_text, frame, hello


async def test_rasa_down_gives_the_unavailable_answer_and_the_message_is_answered_later(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    rasa.down = True
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "message", "text": "anyone there?", "client_id": "m1"})
    notice = await bot_text(ws)
    assert notice["text"] == text("unavailable")
    assert notice["sender"] == "system"
    await wait_until(lambda: rasa.refused >= 2, what="a retry")
    rasa.down = False
    reply = await bot_text(ws)
    assert reply["text"] == "You said: anyone there?"
    assert rasa.messages == ["anyone there?"]
    await ws.close()


async def test_one_conversation_is_answered_in_order(gateway: TestClient, rasa: RasaDouble) -> None:
    rasa.delay = 0.05
    ws, _ = await hello(gateway)
    for i in range(5):
        await ws.send_json({"type": "message", "text": f"m{i}", "client_id": f"c{i}"})
    replies = [(await bot_text(ws))["text"] for _ in range(5)]
    assert replies == [f"You said: m{i}" for i in range(5)]
    assert rasa.messages == [f"m{i}" for i in range(5)]
    await ws.close()


async def test_slow_rasa_gives_one_moment(gateway: TestClient, rasa: RasaDouble) -> None:
    rasa.delay = 1.3
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "message", "text": "slow", "client_id": "m1"})
    assert (await frame(ws, "typing"))["on"] is True
    assert (await bot_text(ws))["text"] == text("one_moment")
    assert (await bot_text(ws))["text"] == "You said: slow"
    assert rasa.messages == ["slow"]
    await ws.close()


async def test_messages_left_pending_by_a_stop_are_answered_on_the_next_start(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    rasa: RasaDouble,
) -> None:
    rasa.down = True
    first = await aiohttp_client(create_app(with_gateway(settings, rasa_retry_max_seconds=5.0)))
    ws, welcome = await hello(first)
    await ws.send_json({"type": "message", "text": "keep me", "client_id": "m1"})
    await bot_text(ws)  # the unavailable notice
    await ws.close()
    await first.close()

    rasa.down = False
    second = await aiohttp_client(create_app(settings))
    await wait_until(lambda: rasa.messages == ["keep me"], what="the pending message")
    await second.app[keys.ROUTER].idle()
    ws, again = await hello(second, session=welcome["session"])
    texts = [m["text"] for m in again["history"]]
    assert texts == ["keep me", text("unavailable"), "You said: keep me"]
    with get_sessionmaker(settings.database_url).begin() as session:
        statuses = session.execute(select(TranscriptMessage.status)).scalars().all()
        assert set(statuses) == {"done"}
    await ws.close()


async def test_a_message_rasa_took_in_before_a_stop_goes_again_under_the_same_name(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    rasa: RasaDouble,
) -> None:
    rasa.delay = 30.0  # the gateway stops while Rasa is still making the turn
    first = await aiohttp_client(create_app(settings))
    ws, welcome = await hello(first)
    await ws.send_json({"type": "message", "text": "keep me", "client_id": "m1"})
    await wait_until(lambda: rasa.messages == ["keep me"], what="the message in Rasa")
    await ws.close()
    await first.close()

    rasa.delay = 0.0
    second = await aiohttp_client(create_app(settings))
    await wait_until(lambda: len(rasa.requests) == 2, what="the message sent again")
    await second.app[keys.ROUTER].idle()
    with get_sessionmaker(settings.database_url).begin() as session:
        kept = session.execute(
            select(TranscriptMessage).where(TranscriptMessage.client_id == "m1")
        ).scalar_one()
        assert kept.status == "done"
        name = f"{kept.id}-{kept.created_at:%Y%m%d%H%M%S%f}"
    # Rasa finds the name in the conversation when it had made the turn (bot.rasa_server).
    assert [r["message_id"] for r in rasa.requests] == [name, name]
    ws, again = await hello(second, session=welcome["session"])
    assert [m["text"] for m in again["history"]] == ["keep me", "You said: keep me"]
    await ws.close()


async def test_replies_with_images_and_custom_payloads_are_kept(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    def reply(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"recipient_id": body["sender"], "image": "https://example.com/a.png"},
            {"recipient_id": body["sender"], "custom": {"kind": "card"}},
            {"recipient_id": body["sender"]},
            "junk",
        ]

    rasa.reply = reply  # type: ignore[assignment]
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "message", "text": "show me", "client_id": "m1"})
    image = await bot_text(ws)
    assert image["image"] == "https://example.com/a.png"
    custom = await bot_text(ws)
    assert custom["text"] is None
    await ws.close()


async def test_many_conversations_run_side_by_side(gateway: TestClient, rasa: RasaDouble) -> None:
    # Each turn is held in Rasa until all five are there: a gateway that sent one
    # conversation's turn at a time would leave the first alone until the double gives up.
    rasa.hold_until_in_flight = 5
    sockets = [(await hello(gateway))[0] for _ in range(5)]
    for i, ws in enumerate(sockets):
        await ws.send_json({"type": "message", "text": f"c{i}", "client_id": "m"})
    texts = [(await bot_text(ws))["text"] for ws in sockets]
    assert texts == [f"You said: c{i}" for i in range(5)]
    assert rasa.peak_in_flight == 5
    for ws in sockets:
        await ws.close()


async def test_a_conversation_a_human_owns_is_not_sent_to_rasa(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, welcome = await hello(gateway)
    with get_sessionmaker(settings.database_url).begin() as session:
        conversation = session.get(Conversation, welcome["session"].rpartition(".")[0])
        conversation.handler = "human"
    await ws.send_json({"type": "message", "text": "for the agent", "client_id": "m1"})
    await frame(ws, "message")
    await gateway.app[keys.ROUTER].idle()
    assert rasa.requests == []
    with get_sessionmaker(settings.database_url).begin() as session:
        row = session.execute(select(TranscriptMessage)).scalar_one()
        assert (row.text, row.status) == ("for the agent", "done")
    await ws.close()


async def test_a_message_sent_while_the_bot_hands_over_goes_to_the_person(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    # The second message is taken in before Rasa's answer to the first hands the conversation
    # to people: the router must read the conversation again rather than trust what it saw
    # when the message arrived.
    rasa.delay = 0.3
    ws, welcome = await hello(gateway)
    await ws.send_json({"type": "message", "text": "a human please", "client_id": "m1"})
    await ws.send_json({"type": "message", "text": "are you there?", "client_id": "m2"})

    def inbound() -> dict[str, str]:
        with get_sessionmaker(settings.database_url).begin() as session:
            return {
                row.text: row.status
                for row in session.execute(select(TranscriptMessage)).scalars()
                if row.direction == "in"
            }

    await wait_until(lambda: len(inbound()) == 2, what="both messages taken in")
    await gateway.app[keys.ROUTER].idle()
    assert inbound() == {"a human please": "done", "are you there?": "done"}
    assert rasa.messages == ["a human please"]
    with get_sessionmaker(settings.database_url).begin() as session:
        conversation = session.get(Conversation, welcome["session"].rpartition(".")[0])
        assert conversation.handler == "human"
    await ws.close()


class _BrokenWatch:
    """A turn watch whose looks inside the router's units of work fail at the database."""

    def __init__(self) -> None:
        self.before_calls = 0
        self.settled: list[int | None] = []

    def look(
        self, session: Session, conversation: ConversationInfo, message: Message
    ) -> int | None:
        session.execute(sql("SELECT * FROM no_such_table"))
        return 0

    async def before(self, conversation: ConversationInfo, message: Message) -> int | None:
        self.before_calls += 1
        return 7

    def settle(self, session: Session, conversation: ConversationInfo, mark: int) -> int | None:
        session.execute(sql("SELECT * FROM no_such_table"))
        return mark

    async def after(
        self, conversation: ConversationInfo, message: Message, settled: int | None
    ) -> None:
        self.settled.append(settled)


async def test_a_turn_watch_failing_inside_the_units_of_work_loses_nothing(
    db_url: str, rasa: RasaDouble
) -> None:
    # On PostgreSQL a failed statement spoils its transaction: the looks run in a savepoint,
    # so the buyer's message and Rasa's answer are committed all the same.
    watch = _BrokenWatch()
    await _one_answered_turn(db_url, rasa, watch)
    assert watch.before_calls == 1  # the look failed: before() decided instead
    assert watch.settled == [None]


class _FailingWatch(NoWatch):
    """A turn watch that fails before its first ``failures`` messages go to Rasa."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.before_calls = 0

    def look(
        self, session: Session, conversation: ConversationInfo, message: Message
    ) -> int | None:
        return None  # before() decides

    async def before(self, conversation: ConversationInfo, message: Message) -> int | None:
        self.before_calls += 1
        if self.before_calls <= self.failures:
            raise RuntimeError("the survey's store is unreachable")
        return 0


async def test_a_message_whose_routing_failed_is_tried_again_and_answered_once(
    db_url: str, rasa: RasaDouble
) -> None:
    watch = _FailingWatch(failures=2)
    await _one_answered_turn(db_url, rasa, watch, retry_max_seconds=0.01)
    assert watch.before_calls == 3


async def test_a_message_that_cannot_be_routed_is_given_up_and_the_buyer_told(
    db_url: str, rasa: RasaDouble
) -> None:
    watch = _FailingWatch(failures=ROUTE_ATTEMPTS)
    sessions, _ = await _route_one(db_url, rasa, watch, retry_max_seconds=0.01)
    assert watch.before_calls == ROUTE_ATTEMPTS
    assert rasa.messages == []
    # Not left pending for a later start to answer after the buyer sent it again.
    assert _transcript(sessions) == [
        ("in", "hello", "done"),
        ("out", text("maybe_unanswered"), "done"),
    ]


async def test_a_message_one_gateway_routes_while_another_starts_is_answered_once(
    db_url: str, rasa: RasaDouble
) -> None:
    # A starting gateway queues every pending message again, this one included: both send it
    # to Rasa under its name, and only the first answer is recorded.
    rasa.hold_until_in_flight = 2  # the first turn is still in Rasa when the second comes
    sessions = get_sessionmaker(db_url)
    inbound = Inbound.typed(
        conversation_id="watched", channel=Channel.WEBCHAT, text="hello", client_id="m1"
    )
    async with aiohttp.ClientSession() as http:
        routers = [
            Router(
                sessions=sessions,
                rasa=RasaClient(http, rasa.url, timeout_seconds=5),
                outbound=Outbound(sessions=sessions),
            )
            for _ in range(2)
        ]
        await routers[0].receive(inbound)
        await wait_until(lambda: rasa.messages == ["hello"], what="the first gateway's turn")
        await routers[1].start()
        for router in routers:
            await router.idle()
            await router.close()
    assert rasa.peak_in_flight == 2
    assert rasa.messages == ["hello", "hello"]
    assert len({request["message_id"] for request in rasa.requests}) == 1
    assert _transcript(sessions) == [
        ("in", "hello", "done"),
        ("out", "You said: hello", "done"),
    ]


def _transcript(sessions: sessionmaker) -> list[tuple[str, str, str]]:
    with sessions.begin() as session:
        rows = session.execute(
            select(TranscriptMessage.direction, TranscriptMessage.text, TranscriptMessage.status)
            .where(TranscriptMessage.conversation_id == "watched")
            .order_by(TranscriptMessage.id)
        ).all()
    return [tuple(row) for row in rows]


async def _route_one(
    db_url: str, rasa: RasaDouble, watch: TurnWatch, *, retry_max_seconds: float = 30.0
) -> tuple[sessionmaker, Message | None]:
    """Route one buyer message through a router with ``watch``, until it is done with it."""
    sessions = get_sessionmaker(db_url)
    async with aiohttp.ClientSession() as http:
        router = Router(
            sessions=sessions,
            rasa=RasaClient(http, rasa.url, timeout_seconds=5),
            outbound=Outbound(sessions=sessions),
            watch=watch,
            retry_max_seconds=retry_max_seconds,
        )
        inbound = Inbound.typed(
            conversation_id="watched", channel=Channel.WEBCHAT, text="hello", client_id="m1"
        )
        recorded = await router.receive(inbound)
        await router.idle()
        await router.close()
    return sessions, recorded


async def _one_answered_turn(
    db_url: str, rasa: RasaDouble, watch: TurnWatch, *, retry_max_seconds: float = 30.0
) -> None:
    """Route one buyer message through a router with ``watch``; check it was answered once."""
    sessions, recorded = await _route_one(db_url, rasa, watch, retry_max_seconds=retry_max_seconds)
    assert recorded is not None
    assert rasa.messages == ["hello"]
    assert _transcript(sessions) == [
        ("in", "hello", "done"),
        ("out", "You said: hello", "done"),
    ]


class _DisconnectingWatch:
    """A turn watch whose first look and first settle end their own connection to PostgreSQL."""

    def __init__(self) -> None:
        self.looks: list[str] = []
        self.settled: list[int | None] = []

    def _once(self, what: str, session: Session) -> None:
        self.looks.append(what)
        if self.looks.count(what) == 1:
            session.execute(sql("SELECT pg_terminate_backend(pg_backend_pid())"))

    def look(
        self, session: Session, conversation: ConversationInfo, message: Message
    ) -> int | None:
        self._once("look", session)
        return 3

    async def before(self, conversation: ConversationInfo, message: Message) -> int | None:
        raise AssertionError("the look answered: before() is not asked")

    def settle(self, session: Session, conversation: ConversationInfo, mark: int) -> int | None:
        self._once("settle", session)
        return mark

    async def after(
        self, conversation: ConversationInfo, message: Message, settled: int | None
    ) -> None:
        self.settled.append(settled)


async def test_a_connection_lost_inside_a_turn_watch_runs_the_whole_unit_again(
    postgres_url: str, rasa: RasaDouble
) -> None:
    # The server ends the connection as a look or a settle uses it (PostgreSQL restarting): the
    # unit of work around it cannot commit, so it runs again, the buyer's message and Rasa's
    # answer with it, instead of failing the message.
    watch = _DisconnectingWatch()
    await _one_answered_turn(postgres_url, rasa, watch)
    assert watch.looks == ["look", "look", "settle", "settle"]
    assert watch.settled == [3]
