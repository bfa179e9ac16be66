"""Rasa as the assistant runs it checks action answers as Rasa does, with a validator built once."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    Restarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses
from sqlalchemy import event

from bot import rasa_server
from bot.rasa_channel import RestChannel, TurnAlreadyMade, answer
from bot.settings import PROJECT_ROOT

GOOD: dict[str, Any] = {
    "events": [{"event": "slot", "name": "order_id", "value": "804112345678", "timestamp": None}],
    "responses": [{"text": "How would you like to be refunded?", "buttons": []}],
}
BAD: dict[str, Any] = {"events": [{"event": "slot", "name": 3}], "responses": []}


def test_a_good_answer_passes() -> None:
    assert rasa_server.validate_action_result(None, GOOD) is True


def test_a_bad_answer_fails_as_it_does_in_rasa() -> None:
    with pytest.raises(jsonschema.ValidationError) as expected:
        jsonschema.validate(BAD, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError) as raised:
        rasa_server.validate_action_result(None, BAD)
    assert raised.value.message.startswith(expected.value.message)
    assert "Failed to validate Action server response from API" in raised.value.message
    assert list(raised.value.path) == list(expected.value.path)


SPEC = RemoteAction.action_response_format_spec()
#: The event names the schema knows, and the fields its event schemas name.
EVENT_NAMES = sorted(
    branch["properties"]["event"]["const"]
    for branch in SPEC["properties"]["events"]["items"]["oneOf"]
)
FIELDS = sorted(
    {
        key
        for branch in SPEC["properties"]["events"]["items"]["oneOf"]
        for key in branch["properties"]
    }
)
field_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["text", "name", "confidence", "title", "x"]), children, max_size=3
        )
    ),
    max_leaves=6,
)
events = st.fixed_dictionaries(
    {}, optional={"event": st.sampled_from([*EVENT_NAMES, "no_such_event"]) | st.integers()}
).flatmap(
    lambda head: st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=4).map(
        lambda fields: {**fields, **head}
    )
)
answers = st.fixed_dictionaries(
    {},
    optional={
        "events": st.lists(events, max_size=3) | field_values,
        "responses": st.lists(st.dictionaries(st.sampled_from(["text", "buttons"]), field_values)),
    },
)


def test_each_kind_of_event_rasa_makes_is_valid_the_quick_way() -> None:
    made = [
        SlotSet("order_id", "804112345678"),
        BotUttered("Which order?", {"buttons": [{"title": "A", "payload": "/a"}]}),
        UserUttered("refund", {"intent": {"name": "request_refund", "confidence": 0.9}}),
        ActionExecuted("action_ask_refund_method"),
        ActiveLoop("refund_form"),
        FollowupAction("action_listen"),
        Restarted(),
    ]
    result = {"events": [e.as_dict() for e in made], "responses": []}
    assert rasa_server.quickly_valid(result)
    assert rasa_server.validate_action_result(None, result) is True


@settings(max_examples=400, deadline=None)
@given(answers)
def test_the_quick_check_accepts_exactly_what_the_schema_does(answer: dict[str, Any]) -> None:
    assert rasa_server.quickly_valid(answer) is validator_for(SPEC)(SPEC).is_valid(answer)


def test_event_types_are_those_rasa_finds() -> None:
    names = [cls.type_name for cls in all_subclasses(Event)]
    assert {"slot", "user", "action"} <= set(names)
    expected = {name: rasa_server._original_resolve_by_type(name) for name in names}
    for _ in range(2):  # found, then from the table
        assert {name: rasa_server.resolve_event_type(name) for name in names} == expected
    assert rasa_server.resolve_event_type("topic") is None
    assert rasa_server.resolve_event_type("no_such_event", SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        rasa_server.resolve_event_type("no_such_event")
    assert "no_such_event" not in rasa_server._event_types


def test_install_puts_the_cached_check_in_rasa() -> None:
    assert rasa_server.install() is True
    action = RemoteAction("action_check", None)
    assert action._validate_action_result(GOOD) is True
    with pytest.raises(jsonschema.ValidationError):
        action._validate_action_result(BAD)
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.from_parameters({"event": "slot", "name": "a", "value": 1}) == SlotSet("a", 1)


async def test_the_rest_channel_answers_503_for_a_turn_that_failed() -> None:
    async def fails(_: UserMessage) -> None:
        raise rasa_server.ActionServerUnavailable("action_order_status: connection refused")

    message = UserMessage("where is my order", CollectingOutputChannel(), "web-1")
    status, body = await answer(fails, message)
    assert status == 503
    assert "again later" in body["error"]


async def test_the_rest_channel_answers_what_was_said() -> None:
    async def says(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "Hello!")

    message = UserMessage("hi", CollectingOutputChannel(), "web-1")
    assert await answer(says, message) == (200, [{"recipient_id": "web-1", "text": "Hello!"}])


async def test_what_was_said_after_a_named_message_is_found_again_and_only_that() -> None:
    buttons = [{"title": "Yes", "payload": "/affirm"}]
    tracker = DialogueStateTracker.from_events(
        "web-1",
        [
            ActionExecuted("action_listen"),
            UserUttered("refund please", message_id="7-20261202"),
            ActionExecuted("refund_form"),
            BotUttered("Which order?", data={"buttons": buttons}),
            BotUttered(None, data={"image": "https://shop.example/lamp.png"}),
            ActionExecuted("action_listen"),
            UserUttered("the lamp", message_id="8-20261202"),
            BotUttered("All of it?", data={"custom": {"handoff": None}}),
        ],
    )
    assert await rasa_server.said_after(tracker, "7-20261202") == [
        {"recipient_id": "web-1", "text": "Which order?", "buttons": buttons},
        {"recipient_id": "web-1", "image": "https://shop.example/lamp.png"},
    ]
    assert await rasa_server.said_after(tracker, "8-20261202") == [
        {"recipient_id": "web-1", "text": "All of it?"},
        {"recipient_id": "web-1", "custom": {"handoff": None}},
    ]
    assert await rasa_server.said_after(tracker, "9-20261202") is None


async def test_the_rest_channel_answers_a_message_made_before_with_what_was_said() -> None:
    said = [{"recipient_id": "web-1", "text": "Which order?"}]

    async def made_before(message: UserMessage) -> None:
        raise TurnAlreadyMade(message.message_id, said)

    message = UserMessage("refund please", CollectingOutputChannel(), "web-1", message_id="7-1")
    assert await answer(made_before, message) == (200, said)


def test_rasa_serves_this_channel_at_the_gateways_address() -> None:
    credentials = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text())
    assert list(credentials) == ["bot.rasa_channel.RestChannel"]
    assert RestChannel.name() == "rest"


async def test_rasa_s_sqlite_tracker_store_writes_ahead(tmp_path: Path) -> None:
    rasa_server.install()
    path = tmp_path / "rasa-tracker.db"
    domain = Domain.from_yaml("slots: {}")
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
    tracker = DialogueStateTracker.from_events("buyer-1", [UserUttered("hello")])
    await store.save(tracker)
    saved = await store.retrieve("buyer-1")
    assert saved is not None
    assert [e.text for e in saved.events if isinstance(e, UserUttered)] == ["hello"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_rasa_s_sqlite_tracker_store_keeps_its_connection_from_turn_to_turn(
    tmp_path: Path,
) -> None:
    rasa_server.install()
    store = SQLTrackerStore(
        Domain.from_yaml("slots: {}"), dialect="sqlite", db=str(tmp_path / "rasa-tracker.db")
    )
    opened: list[object] = []
    event.listen(store.engine, "connect", lambda connection, _record: opened.append(connection))
    events: list[Event] = []
    for turn in range(5):
        events.append(UserUttered(f"message {turn}"))
        await store.save(DialogueStateTracker.from_events("buyer-1", events))
        saved = await store.retrieve("buyer-1")
        assert saved is not None
        assert len(saved.events) == turn + 1
    # Opening the file for every read and write also made SQLite fold its write-ahead log
    # back into the file each time the last connection closed (ms a turn).
    assert len(opened) <= 1
