"""What the console reads and writes, as table functions.

Functions take a ``session`` (keyword-only) and never commit; the views own the units of work.
They return the JSON forms the console's script reads.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.console.hub import message_json
from bot.console.models import Agent, CannedReply, ConversationNote
from bot.gateway import transcript
from bot.gateway.models import Conversation
from bot.handoff import queue
from bot.refunds import review, store
from bot.refunds.enums import RefundStatus
from bot.refunds.models import Customer, Evidence, Order, RefundApplication
from bot.survey import store as survey_store


def summary(session: Session, *, conversation_id: str) -> dict[str, Any]:
    """Return one line of the conversation lists: channel, customer, last message."""
    row = session.get(Conversation, conversation_id)
    customer = None if row.customer_id is None else session.get(Customer, row.customer_id)
    last = transcript.history(session, conversation_id=conversation_id, limit=1)
    return {
        "id": row.id,
        "channel": row.last_channel,
        "handler": row.handler,
        "language": row.language,
        "customer": None
        if row.customer_id is None
        else {
            "id": row.customer_id,
            "name": None if customer is None else customer.name,
        },
        "updated_at": row.updated_at.isoformat(),
        "last_message": (last[0].text or "")[:140] if last else None,
    }


def inbox(session: Session, *, now: dt.datetime) -> dict[str, Any]:
    """Return the queue (waiting and claimed conversations) and recent bot conversations."""
    waiting = [
        summary(session, conversation_id=h.conversation_id) | {"handoff": h.to_json(now)}
        for h in queue.open_handoffs(session)
    ]
    queued = {item["id"] for item in waiting}
    recent_rows = session.execute(
        select(Conversation.id)
        .where(Conversation.handler == queue.BOT)
        .order_by(Conversation.updated_at.desc())
        .limit(20)
    ).scalars()
    recent = [summary(session, conversation_id=cid) for cid in recent_rows if cid not in queued]
    return {"queue": waiting, "recent": recent}


def conversation_detail(
    session: Session, *, conversation_id: str, now: dt.datetime
) -> dict[str, Any] | None:
    """Return one conversation: transcript, notes, handoff and the customer's context."""
    row = session.get(Conversation, conversation_id)
    if row is None:
        return None
    current = queue.open_handoff(session, conversation_id=conversation_id)
    notes = session.execute(
        select(ConversationNote)
        .where(ConversationNote.conversation_id == conversation_id)
        .order_by(ConversationNote.id)
    ).scalars()
    return {
        **summary(session, conversation_id=conversation_id),
        "handoff": None if current is None else current.to_json(now),
        "messages": [
            message_json(m) for m in transcript.history(session, conversation_id=conversation_id)
        ],
        "notes": [note_json(session, note=n) for n in notes],
        "customer_context": customer_context(session, customer_id=row.customer_id),
        "satisfaction": [
            {
                "event": s.event.value,
                "asked_at": s.asked_at.isoformat(),
                "rating": s.rating,
                "comment": s.comment,
            }
            for s in survey_store.of_conversation(session, conversation_id=conversation_id)
        ],
    }


def customer_context(session: Session, *, customer_id: str | None) -> dict[str, Any] | None:
    """Return the customer beside a conversation: their orders and applications."""
    if customer_id is None:
        return None
    customer = session.get(Customer, customer_id)
    orders = store.customer_orders(session, customer_id=customer_id)
    applications = store.list_applications(session, customer_id=customer_id)
    return {
        "id": customer_id,
        "name": None if customer is None else customer.name,
        "email": None if customer is None else customer.email,
        "orders": [
            {
                "id": o.id,
                "status": o.status,
                "total": str(o.total),
                "currency": o.currency,
                "items": [item.title for item in o.items],
            }
            for o in orders[:10]
        ],
        "applications": [application_json(a) for a in applications[:10]],
    }


def add_note(
    session: Session, *, conversation_id: str, agent_id: int, text: str
) -> dict[str, Any] | None:
    """Keep an agent's private note; ``None`` when there is no such conversation."""
    if session.get(Conversation, conversation_id) is None:
        return None
    note = ConversationNote(
        conversation_id=conversation_id, agent_id=agent_id, text=text, created_at=utcnow()
    )
    session.add(note)
    session.flush()
    return note_json(session, note=note)


def note_json(session: Session, *, note: ConversationNote) -> dict[str, Any]:
    """Return a note as the console shows it."""
    agent = None if note.agent_id is None else session.get(Agent, note.agent_id)
    return {
        "id": note.id,
        "text": note.text,
        "agent": None if agent is None else agent.display_name,
        "created_at": note.created_at.isoformat(),
    }


def canned_replies(session: Session, *, language: str | None = None) -> list[dict[str, Any]]:
    """Return the canned replies by title; with ``language``, those in it first.

    A reply without a language suits every conversation, so it comes with them.
    """
    rows = session.execute(select(CannedReply).order_by(CannedReply.title)).scalars()
    replies = [canned_json(c) for c in rows]
    if language is None:
        return replies
    return sorted(replies, key=lambda c: c["language"] not in (language, None))


def canned_json(row: CannedReply) -> dict[str, Any]:
    """Return a canned reply as the console reads it."""
    return {"id": row.id, "title": row.title, "text": row.text, "language": row.language}


def add_canned_reply(
    session: Session, *, title: str, text: str, language: str | None = None
) -> dict[str, Any]:
    """Add a canned reply, in ``language`` or (``None``) for every conversation.

    Raises:
        IntegrityError: a canned reply with that title exists (on flush).
    """
    row = CannedReply(title=title, text=text, language=language, created_at=utcnow())
    session.add(row)
    session.flush()
    return canned_json(row)


def evidence_file(
    session: Session, *, evidence_id: int, evidence_dir: Path
) -> tuple[Path, str, str] | None:
    """Return the path, content type and name of an evidence file kept under ``evidence_dir``."""
    row = session.get(Evidence, evidence_id)
    if row is None:
        return None
    # Only files under var/evidence, whatever the row says.
    path = Path(row.storage_path).resolve()
    if not path.is_relative_to(evidence_dir.resolve()) or not path.is_file():
        return None
    return path, row.content_type, row.filename


def application_json(a: RefundApplication) -> dict[str, Any]:
    """Return an application as the console shows it, with what a reviewer can do now."""
    return {
        **a.fields(),
        "review_due_at": None if a.review_due_at is None else a.review_due_at.isoformat(),
        "conversation_id": a.conversation_id,
        "created_at": a.created_at.isoformat(),
        "actions": [action.value for action in review.available_actions(a)],
    }


def applications(session: Session, *, statuses: list[RefundStatus] | None) -> list[dict[str, Any]]:
    """Return applications, newest first (at most 200), optionally of some statuses."""
    found = store.list_applications(session, statuses=statuses)
    return [application_json(a) for a in found[:200]]


def application_detail(session: Session, *, reference: str) -> dict[str, Any]:
    """Return one application with its evidence and audit trail.

    Raises:
        ApplicationNotFound: there is none.
    """
    found = review.get_application(session, reference=reference)
    events = store.events_of(session, application_id=found.id)
    files = session.execute(
        select(Evidence).where(Evidence.application_id == found.id).order_by(Evidence.id)
    ).scalars()
    return application_json(found) | {
        "evidence": [
            {"id": f.id, "filename": f.filename, "content_type": f.content_type} for f in files
        ],
        "events": [
            {
                "from": e.from_status,
                "to": e.to_status,
                "actor": e.actor,
                "note": e.note,
                "at": e.at.isoformat(),
            }
            for e in events
        ],
    }


#: How many orders one search shows; more are hinted at, not paged through.
SEARCH_LIMIT = 20


def search_orders(session: Session, *, query: str, limit: int = SEARCH_LIMIT) -> dict[str, Any]:
    """Return the orders whose number, customer id or e-mail is ``query``, newest first.

    An order number matches from its start (at least four digits), a customer id and an e-mail
    exactly (the e-mail in any case); an empty query lists the latest orders. At most ``limit``
    orders, and ``more`` when there are others: a merchant narrows the search rather than pages.
    """
    wanted = query.strip()
    statement = select(Order).order_by(Order.paid_at.desc(), Order.id)
    if wanted:
        matches = [Order.customer_id == wanted, func.lower(Order.customer_email) == wanted.lower()]
        if wanted.isdigit() and len(wanted) >= 4:
            matches.append(Order.id.startswith(wanted))
        statement = statement.where(or_(*matches))
    found = session.execute(statement.limit(limit + 1)).scalars().all()
    return {
        "orders": [
            {
                "order_id": o.id,
                "customer_id": o.customer_id,
                "customer_email": o.customer_email,
                "status": o.status,
                "total": str(o.total),
                "currency": o.currency,
                "paid_at": o.paid_at.isoformat(),
            }
            for o in found[:limit]
        ],
        "more": len(found) > limit,
    }
