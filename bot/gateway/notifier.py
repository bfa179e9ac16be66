"""Proactive updates: an outbox reader over ``refund_events``.

Every state change of an application is an append-only ``refund_events`` row, whichever process
made it. The notifier reads the rows past a persisted cursor and, through the outbound path,
writes the buyer's message to the transcript of each conversation it goes to and moves the
cursor in the same transaction, then delivers it there. So each change is told at most once per
conversation, even across restarts; a web buyer who is offline sees it in the history on return.
Several gateways each run a notifier: the cursor row is read ``FOR UPDATE`` in the transaction
that writes the messages (on SQLite the write lock does the same), so one pass at a time takes a
batch and the next starts past it; each message goes out from the gateway that wrote it.

Where it goes (:func:`bot.gateway.conversations.conversations_to_tell`): every channel the customer
used (wrote in, or was taken up by a person) in the last ``notify_recent_days`` (30) days, once
each, so a widget buyer who once opened Telegram still sees an approval in the widget. A channel is
reached through the customer's latest conversation on it, and older ones on the same channel are
not told again: the widget opens a signed-in buyer's latest web conversation, so that is the
history they read, and of several Telegram chats the one used last is the account they use now.
When no conversation is that recent, the news goes to the one used last, to wait in its history. An
application made where no customer is signed in (an anonymous buyer who proved who they are with
the order's e-mail) is told in its own conversation only, and only conversations bound to the
application's customer are told: a chat since signed in as someone else hears nothing of it.
An application the shop filed for the buyer (the shop API) is news from its first event on: the
buyer is told it was opened, or, when it was approved at once, that it is paid.

After a conversation was told that a refund was paid, the ``on_paid`` hook hears of it (the
satisfaction survey asks there, :mod:`bot.survey`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import tasks
from bot.clock import utcnow
from bot.gateway import conversations, transcript
from bot.gateway.models import GatewayCursor
from bot.gateway.outbound import Outbound, Outgoing
from bot.languages import DEFAULT
from bot.messages import money, text
from bot.refunds import store
from bot.refunds.enums import RefundStatus
from bot.refunds.models import RefundApplication, RefundEvent
from bot.settings import GatewaySettings

log = logging.getLogger(__name__)

CURSOR = "refund_events_notifier"
BATCH = 100
#: How long after their last activity a buyer's conversation is still told news.
RECENT = dt.timedelta(days=GatewaySettings.notify_recent_days)

#: Called with the conversation and the application after a buyer was told it is paid.
PaidHook = Callable[[str, int], Awaitable[object]]


async def _no_paid(_conversation_id: str, _application_id: int) -> None:
    return None


def status_message(
    application: RefundApplication, event: RefundEvent, *, language: str = DEFAULT
) -> str | None:
    """Return what the buyer is told about ``event``, or ``None`` when it is not news to them.

    ``language`` is the language of the conversation told.
    """
    facts = {
        "reference": application.reference,
        "amount": money(application.amount, application.currency, language=language),
    }
    status = event.to_status
    if event.from_status is None:
        # A new application: the buyer made it in a chat and was answered there, unless the
        # shop filed it for them (the shop API).
        return (
            None
            if store.is_customer_actor(event.actor)
            else text("status.filed_by_shop", language=language, **facts)
        )
    if event.from_status == status:
        # Not a change: the merchant asks the buyer something (bot.refunds.review), or the
        # buyer's own answer or tracking number (bot.refunds.store.add_buyer_note).
        if not event.note or store.is_customer_actor(event.actor):
            return None
        return text("status.merchant_asks", question=event.note, language=language, **facts)
    if status == RefundStatus.REJECTED.value and event.note:
        return text("status.rejected_with_note", note=event.note, language=language, **facts)
    if status in _NEWS:
        return text(f"status.{status}", language=language, **facts)
    return None


#: Statuses the buyer is told about.
_NEWS = frozenset(
    {
        RefundStatus.APPROVED.value,
        RefundStatus.REJECTED.value,
        RefundStatus.AWAITING_RETURN.value,
        RefundStatus.RETURN_RECEIVED.value,
        RefundStatus.REFUNDED.value,
    }
)


#: News that a later change in the same pass already tells ("approved" by "paid", ...).
SUPERSEDED_BY: dict[str, frozenset[str]] = {
    RefundStatus.PENDING_REVIEW.value: frozenset(
        {
            RefundStatus.APPROVED.value,
            RefundStatus.AWAITING_RETURN.value,
            RefundStatus.REFUNDED.value,
        }
    ),
    RefundStatus.APPROVED.value: frozenset(
        {RefundStatus.AWAITING_RETURN.value, RefundStatus.REFUNDED.value}
    ),
    RefundStatus.RETURN_RECEIVED.value: frozenset({RefundStatus.REFUNDED.value}),
}


def start_cursor(session: Session) -> int:
    """Return the cursor, creating it at the newest event so a first start tells no old news."""
    row = session.get(GatewayCursor, CURSOR)
    if row is None:
        newest = session.execute(select(func.max(RefundEvent.id))).scalar_one_or_none() or 0
        row = GatewayCursor(name=CURSOR, position=newest)
        session.add(row)
        session.flush()
    return int(row.position)


async def ensure_cursor(sessions: sessionmaker) -> int:
    """Return the cursor's position, creating it if needed (:func:`start_cursor`).

    Gateways starting at once on a new database both try to create it; the one that comes
    second reads what the first one made.
    """
    try:
        return await transcript.run_in_session(sessions, start_cursor)
    except IntegrityError:
        return await transcript.run_in_session(sessions, start_cursor)


def take_batch(
    session: Session,
    *,
    recent: dt.timedelta = RECENT,
    paid: list[tuple[str, int]] | None = None,
) -> list[Outgoing]:
    """Return the news in the events past the cursor, and move the cursor past them.

    Each piece of news is one message to each conversation the buyer used within ``recent``.
    Each conversation told that a refund was paid is added to ``paid`` (with the application).
    """
    active_since = utcnow() - recent
    cursor = session.execute(
        select(GatewayCursor).where(GatewayCursor.name == CURSOR).with_for_update()
    ).scalar_one_or_none()
    if cursor is None:
        start_cursor(session)
        cursor = session.get(GatewayCursor, CURSOR)
    rows = session.execute(
        select(RefundEvent, RefundApplication)
        .join(RefundApplication, RefundApplication.id == RefundEvent.application_id)
        .where(RefundEvent.id > cursor.position)
        .order_by(RefundEvent.id)
        .limit(BATCH)
    ).all()
    out: list[Outgoing] = []
    filers: dict[int, str] = {}
    for i, (event, application) in enumerate(rows):
        cursor.position = event.id
        if event.at == application.created_at and store.is_customer_actor(
            _filer(session, application.id, filers)
        ):
            # Decided while the buyer submitted it: the bot has just told them in the chat.
            continue
        later = [e for e, a in rows[i + 1 :] if a.id == application.id]
        superseded = SUPERSEDED_BY.get(event.to_status, frozenset())
        if event.from_status != event.to_status and any(e.to_status in superseded for e in later):
            # "Approved for return" says both; one message rather than two in a row.
            continue
        if status_message(application, event) is None:
            continue
        told = conversations.conversations_to_tell(
            session,
            conversation_id=application.conversation_id,
            customer_id=application.customer_id,
            active_since=active_since,
        )
        # Each conversation in its own language: a buyer may write Spanish on one channel.
        for conversation in told:
            said = status_message(application, event, language=conversation.language)
            out.append(Outgoing(conversation.id, said))
        if paid is not None and event.to_status == RefundStatus.REFUNDED.value:
            paid.extend((conversation.id, application.id) for conversation in told)
    return out


def _filer(session: Session, application_id: int, known: dict[int, str]) -> str:
    """Return who filed the application (the actor of its first event), read once per batch."""
    if application_id not in known:
        known[application_id] = session.execute(
            select(RefundEvent.actor)
            .where(RefundEvent.application_id == application_id)
            .order_by(RefundEvent.id)
            .limit(1)
        ).scalar_one()
    return known[application_id]


def has_news(session: Session) -> bool:
    """Return whether a refund event lies past the cursor (a read: the poll's usual answer)."""
    position = session.execute(
        select(GatewayCursor.position).where(GatewayCursor.name == CURSOR)
    ).scalar_one_or_none()
    newest = session.execute(select(func.max(RefundEvent.id))).scalar_one_or_none()
    return newest is not None and (position is None or newest > position)


async def notify_once(
    outbound: Outbound,
    sessions: sessionmaker,
    *,
    read_sessions: sessionmaker | None = None,
    recent: dt.timedelta = RECENT,
    on_paid: PaidHook = _no_paid,
) -> int:
    """Deliver every pending status change; return how many messages were sent.

    With ``read_sessions`` (read-only units of work), a pass with nothing to tell takes no
    write lock. ``on_paid`` hears of each conversation told that a refund was paid, after the
    news is delivered (the survey asks there).
    """
    if read_sessions is not None and not await transcript.run_in_session(read_sessions, has_news):
        return 0
    sent = 0
    while True:
        paid: list[tuple[str, int]] = []
        batch = await outbound.send(functools.partial(take_batch, recent=recent, paid=paid))
        sent += len(batch)
        for conversation_id, application_id in paid:
            await on_paid(conversation_id, application_id)
        if not batch:
            return sent


def approve_overdue(session: Session) -> int:
    """Approve applications the merchant left unanswered past the review deadline."""
    return len(store.approve_overdue(session, now=utcnow()))


async def notifier(
    outbound: Outbound,
    sessions: sessionmaker,
    *,
    interval_seconds: float,
    sweep_seconds: float,
    read_sessions: sessionmaker | None = None,
    recent: dt.timedelta = RECENT,
    on_failure: Callable[[], object] = lambda: None,
    on_paid: PaidHook = _no_paid,
) -> AsyncIterator[None]:
    """Run the notifier in the background while the app runs (a ``cleanup_ctx`` body).

    Every ``sweep_seconds`` it also approves overdue applications, whose events it then
    delivers like any other change. ``on_failure`` is called after a pass fails (the metrics).
    """
    await ensure_cursor(sessions)

    async def loop() -> None:
        next_sweep = time.monotonic() + sweep_seconds
        while True:
            try:
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + sweep_seconds
                    await transcript.run_in_session(sessions, approve_overdue)
                await notify_once(
                    outbound, sessions, read_sessions=read_sessions, recent=recent, on_paid=on_paid
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notifier pass failed; retrying")
                on_failure()
            await asyncio.sleep(interval_seconds)

    task = asyncio.create_task(loop(), name="refund-notifier")
    try:
        yield
    finally:
        await tasks.stop(task)
