"""Rasa's command line as the assistant runs it: ``python -m bot.rasa_server run ...``.

It is ``rasa`` with these changes, all installed by :func:`install`.

**A turn whose action failed is not done.** When the action server cannot be reached (or
answers with a server error), Rasa 3.6 logs "Bot will continue, but the actions events are
lost", carries on, saves the buyer's message in the tracker and answers ``200`` with what it
had said so far (often nothing). The gateway would take that as the answer and the buyer's
message would be lost. Here such a failure raises :class:`ActionServerUnavailable` out of the
turn instead, before the tracker is saved (Rasa saves it last), and the REST channel the
gateway uses (:mod:`bot.rasa_channel`) answers ``503``; the gateway keeps the message, tells
the buyer it is temporarily unavailable and sends it again later, to a tracker that never saw
the first try, so the form is not advanced twice.

**Restarts of PostgreSQL and Redis cost at most a retried turn.** Rasa 3.6 wraps the tracker
store in a "fail-safe" one: a tracker it cannot read is taken to be a new conversation (the
buyer in the middle of a refund form is greeted as a stranger) and one it cannot write is kept
in this process's memory only (the turn is answered, then forgotten). Here either failure fails
the turn with :class:`TrackerStoreUnavailable`, before or instead of saving it; the REST channel
answers ``503`` and the gateway sends the message again once the database is back, to the
tracker as it was before the turn (an application the first try filed is found by its draft's
idempotency key, not filed again). Rasa's SQL tracker store also keeps its connections pooled
without checking them, so after PostgreSQL restarted each pooled connection failed one turn;
here they are checked when taken from the pool (``pool_pre_ping``, as the refund store's are).
Rasa releases a conversation's Redis lock after the turn, tracker saved and answer made; when
Redis is restarting just then, Rasa 3.6 failed the finished turn with the lock's error and the
gateway would have made it a second time. Here the failed release is logged and the turn
answered: the lock is gone with Redis's data or expires by its own lifetime.

**Action answers are checked with a validator built once.** Rasa 3.6 checks every answer of
the action server with ``jsonschema.validate``, which first checks the *schema* against the JSON
Schema meta-schema (draft 2020-12, which resolves ``$dynamicRef`` on every call): about 25 ms
of CPU per custom action on the development machine, two or three times per buyer's turn, and
more than half of Rasa's time per turn. Here the schema is checked once and the validator kept;
answers are checked against the same schema and a bad one fails with the same error as before.
The schema lets each event be ``oneOf`` 23 event schemas, each fixing the event's name, so an
event was checked against all 23; here it is checked against the one its name picks, which
accepts exactly what ``oneOf`` does (0.2 ms an answer instead of 1.6). Only an answer that fails
is checked the whole way, for Rasa's error message.

**Rasa's SQLite tracker store writes ahead.** Rasa opens the SQLite file of ``refundbot run``
in SQLite's default rollback-journal mode, where each saved turn costs two waits for the disk
(3 ms a commit on the development machine); here its connections use the write-ahead log, as
the refund store's do (0.15 ms a commit, the same durability: every commit is synced), and wait
for a busy file instead of failing when two Rasa servers share it. Its connections are also
kept from one read or write to the next: SQLAlchemy 1.4 opens a SQLite file anew for each (it
pools nothing for SQLite), and each time the last connection closed SQLite folded the log back
into the file, so every saved turn paid for a checkpoint (a sixth of Rasa's samples at 5 buyers).

**A buyer's message is answered once.** The gateway names each message it sends (the REST
channel's ``message_id``), and Rasa keeps the name on the buyer's event in the tracker. A gateway
that stops after Rasa made the turn and before it recorded the answer sends the message again
when it starts (it is still ``pending`` there). Rasa 3.6 would make the turn a second time: the
form would take the answer twice, and the buyer would get a reply to a question already past.
Here a message whose name the conversation's tracker already holds raises
:class:`~bot.rasa_channel.TurnAlreadyMade` with what the bot said after it, before anything
is parsed, run or saved, and the REST channel answers with that.

**Event types are looked up in a table.** Rasa 3.6 finds the class of every stored event by
walking every subclass of ``Event`` (``inspect.isabstract`` on each): about 50 µs an event, and
a turn reads the conversation's events several times (the tracker from the store, the form's
temporary tracker), so a few milliseconds of every turn late in a conversation. Here a type
found once is kept by its name; an unknown name still goes the original way (its default, or
its error).
"""

from __future__ import annotations

import contextvars
import copy
import functools
import json
import logging
import sqlite3
import sys
from typing import Any

import rasa
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core import tracker_store
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import LockStore
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import QueuePool

from bot.rasa_channel import TurnAlreadyMade

log = logging.getLogger(__name__)

#: The Rasa versions whose ``RemoteAction`` and ``MessageProcessor._run_action`` this module
#: knows.
SUPPORTED_RASA = "3.6."


class TrackerStoreUnavailable(Exception):
    """The tracker store could not be read or written: the turn fails; try it again later."""


class ActionServerUnavailable(Exception):
    """An action could not run: the action server was unreachable or failed. Try again later."""


#: Failures of the action server seen while the current action ran (one list per action).
_failures: contextvars.ContextVar[list[RasaException] | None] = contextvars.ContextVar(
    "action_server_failures", default=None
)
_original_remote_run = RemoteAction.run
_original_run_action = MessageProcessor._run_action


async def _remote_run(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
    try:
        return await _original_remote_run(self, *args, **kwargs)
    except ActionExecutionRejection:
        raise
    except RasaException as e:
        failures = _failures.get()
        if failures is not None:
            failures.append(e)
        raise


async def _run_action(self: MessageProcessor, action: Any, *args: Any, **kwargs: Any) -> Any:
    failures: list[RasaException] = []
    token = _failures.set(failures)
    try:
        result = await _original_run_action(self, action, *args, **kwargs)
    finally:
        _failures.reset(token)
    if failures:
        raise ActionServerUnavailable(f"{action.name()}: {failures[0]}") from failures[0]
    return result


async def retrieve_tracker(self: FailSafeTrackerStore, sender_id: str) -> Any:
    """Read the conversation's tracker (its latest session); fail when the store cannot."""
    try:
        return await self._tracker_store.retrieve(sender_id)
    except Exception as e:
        raise TrackerStoreUnavailable(f"reading the tracker of {sender_id}: {e!r}") from e


async def retrieve_full_tracker(self: FailSafeTrackerStore, sender_id: str) -> Any:
    """Read the conversation's tracker (every session); fail when the store cannot."""
    try:
        return await self._tracker_store.retrieve_full_tracker(sender_id)
    except Exception as e:
        raise TrackerStoreUnavailable(f"reading the tracker of {sender_id}: {e!r}") from e


async def save_tracker(self: FailSafeTrackerStore, tracker: Any) -> None:
    """Save the tracker in the tracker store; fail (not keep it in memory) when it cannot."""
    try:
        await self._tracker_store.save(tracker)
    except Exception as e:
        raise TrackerStoreUnavailable(f"saving the tracker of {tracker.sender_id}: {e!r}") from e


async def said_after(tracker: DialogueStateTracker, message_id: str) -> list[dict[str, Any]] | None:
    """Return what the bot said after the buyer's message ``message_id``; ``None`` if it is new.

    What was said is sent again through a collecting channel, as Rasa sent it the first time.
    """
    events = list(tracker.events)
    for at in range(len(events) - 1, -1, -1):
        if isinstance(events[at], UserUttered) and events[at].message_id == message_id:
            break
    else:
        return None
    said = CollectingOutputChannel()
    for later in events[at + 1 :]:
        if isinstance(later, UserUttered):
            break
        if isinstance(later, BotUttered):
            await said.send_response(tracker.sender_id, later.message())
    messages: list[dict[str, Any]] = said.messages
    return messages


async def log_message(
    self: MessageProcessor, message: UserMessage, should_save_tracker: bool = True
) -> DialogueStateTracker:
    """Add the buyer's message to its conversation's tracker, as Rasa does, unless it is there.

    Raises:
        TurnAlreadyMade: the tracker holds a message of the same ``message_id``.
    """
    tracker = await self.fetch_tracker_and_update_session(
        message.sender_id, message.output_channel, message.metadata
    )
    said = await said_after(tracker, message.message_id)
    if said is not None:
        raise TurnAlreadyMade(message.message_id, said)
    await self._handle_message_with_tracker(message, tracker)
    if should_save_tracker:
        await self.save_tracker(tracker)
    return tracker


_original_resolve_by_type = Event.resolve_by_type
_event_types: dict[str, type[Event]] = {}


def resolve_event_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """Return the event class of ``type_name`` as Rasa does, from a table once it was found."""
    known = _event_types.get(type_name)
    if known is not None:
        return known
    found: type[Event] | None = _original_resolve_by_type(type_name, default)
    if found is not None and found.type_name == type_name:
        _event_types[type_name] = found
    return found


_original_engine_kwargs = tracker_store.create_engine_kwargs
_original_cleanup = LockStore.cleanup


def tracker_engine_kwargs(url: Any) -> dict[str, Any]:
    """Return Rasa's engine arguments for the tracker store.

    A PostgreSQL connection is checked when taken from the pool; a SQLite file's is kept.
    """
    kwargs: dict[str, Any] = _original_engine_kwargs(url)
    if tracker_store.is_postgresql_url(url):
        kwargs["pool_pre_ping"] = True
    elif _is_sqlite_file(url):
        # One connection kept open (Rasa's sessions run on its event loop, one at a time).
        kwargs["poolclass"] = QueuePool
        kwargs["connect_args"] = {"check_same_thread": False}
    return kwargs


def _is_sqlite_file(url: Any) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")


def sqlite_write_ahead(dbapi_connection: Any, _record: Any) -> None:
    """Put each new SQLite connection (Rasa's tracker store's) in write-ahead-log mode."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def release_lock(self: LockStore, conversation_id: str, ticket_number: int) -> None:
    """Release a conversation's lock after its turn; a failure to do so does not fail the turn."""
    try:
        _original_cleanup(self, conversation_id, ticket_number)
    except Exception as e:
        log.warning(
            "could not release the lock of conversation %s (%r): it expires by itself",
            conversation_id,
            e,
        )


@functools.lru_cache(maxsize=1)
def _response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@functools.lru_cache(maxsize=1)
def _event_validators() -> tuple[Any, dict[str, Any]] | None:
    """Return a validator of the schema without the events' ``oneOf``, and one per event name.

    ``None`` when the schema is not the shape this relies on (each branch of the ``oneOf``
    fixing a different event name, nothing referred to elsewhere in the schema).
    """
    schema = copy.deepcopy(RemoteAction.action_response_format_spec())
    items = schema.get("properties", {}).get("events", {}).get("items", {})
    branches = items.pop("oneOf", None)
    if not isinstance(branches, list) or "$ref" in json.dumps(schema) + json.dumps(branches):
        return None
    cls = validator_for(schema)
    by_name: dict[str, Any] = {}
    for branch in branches:
        name = branch.get("properties", {}).get("event", {}).get("const")
        if not isinstance(name, str) or name in by_name:
            return None
        by_name[name] = cls(branch)
    return cls(schema), by_name


def quickly_valid(result: Any) -> bool:
    """Return whether ``result`` is a valid action answer, checking each event once.

    An event is valid under ``oneOf`` when exactly one branch accepts it; a branch accepts only
    the event name it fixes, so that is the branch its name picks. ``False`` also when this
    cannot tell (the schema's shape changed): the caller checks the whole way then.
    """
    validators = _event_validators()
    if validators is None:
        return False
    answer, by_name = validators
    if not answer.is_valid(result):
        return False
    # Valid so far: ``events``, when given, is a list of objects naming their event.
    for item in result.get("events") or []:
        branch = by_name.get(item["event"])
        if branch is None or not branch.is_valid(item):
            return False
    return True


def validate_action_result(_action: Any, result: dict[str, Any]) -> bool:
    """Check an action server's answer as Rasa does, with validators built once.

    Raises:
        jsonschema.ValidationError: the answer does not follow Rasa's action response format
            (the message says so as Rasa's own does).
    """
    if quickly_valid(result):
        return True
    error = best_match(_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> bool:
    """Apply the changes to Rasa; return whether this Rasa version is one they fit."""
    if not rasa.__version__.startswith(SUPPORTED_RASA) or not hasattr(
        RemoteAction, "_validate_action_result"
    ):
        log.warning(
            "Rasa %s is not %sx: action answers are checked the slow way, and a failed action "
            "loses the buyer's message", rasa.__version__, SUPPORTED_RASA,
        )  # fmt: skip
        return False
    RemoteAction._validate_action_result = validate_action_result
    RemoteAction.run = _remote_run
    MessageProcessor._run_action = _run_action
    MessageProcessor.log_message = log_message
    tracker_store.create_engine_kwargs = tracker_engine_kwargs
    FailSafeTrackerStore.retrieve = retrieve_tracker
    FailSafeTrackerStore.retrieve_full_tracker = retrieve_full_tracker
    FailSafeTrackerStore.save = save_tracker
    LockStore.cleanup = release_lock
    Event.resolve_by_type = staticmethod(resolve_event_type)
    if not event.contains(Engine, "connect", sqlite_write_ahead):
        event.listen(Engine, "connect", sqlite_write_ahead)
    return True


def main() -> None:
    """Run Rasa's command line (``sys.argv``) with :func:`install` applied."""
    from rasa.__main__ import main as rasa_main

    install()
    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
