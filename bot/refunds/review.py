"""Merchant review of refund applications: the decisions people take in the agent console.

Each decision is a :func:`bot.refunds.store.transition` (so an audited ``refund_events`` row, which
the gateway's notifier tells the buyer once) or, for a question to the buyer, an event that keeps
the status and carries the question as its note (:func:`bot.refunds.store.annotate`). Both write
only if the status is still the one the decision was taken on. Functions take a ``session``
(keyword-only arguments) and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.refunds import policy, store
from bot.refunds.enums import RefundStatus
from bot.refunds.enums import ReviewAction as ReviewAction  # how reviewers' callers name it
from bot.refunds.errors import ApplicationNotFound, ReasonError, TransitionNotAllowed
from bot.refunds.models import RefundApplication

MAX_NOTE_CHARS = 1000


def available_actions(application: RefundApplication) -> list[ReviewAction]:
    """Return the actions the application's status allows, in the console's order."""
    return policy.review_actions(RefundStatus(application.status))


def get_application(
    session: Session, *, reference: str, for_update: bool = False
) -> RefundApplication:
    """Return any customer's application by reference (reviewers see them all).

    Raises:
        ApplicationNotFound: there is none.
    """
    query = select(RefundApplication).where(
        RefundApplication.reference == reference.strip().upper()
    )
    if for_update:
        query = query.with_for_update()
    application: RefundApplication | None = session.execute(query).scalar_one_or_none()
    if application is None:
        raise ApplicationNotFound(f"application {reference} not found", reference=reference)
    return application


def review(
    session: Session,
    *,
    application: RefundApplication,
    action: ReviewAction,
    actor: str,
    now: dt.datetime,
    note: str | None = None,
) -> RefundApplication:
    """Take ``action`` on the application as ``actor`` (``agent:ana``).

    ``note`` is the reason of a rejection or the question to the buyer (both required), and an
    optional remark otherwise.

    Raises:
        TransitionNotAllowed: the application's status does not allow the action.
        ReasonError: a rejection without a reason, a question without text, or a note too long.
    """
    status = RefundStatus(application.status)
    if status not in policy.ALLOWED_FROM[action]:
        raise TransitionNotAllowed(
            f"cannot {action.value.replace('_', ' ')} an application that is {status.value}",
            current=status.value,
            target=action.value,
        )
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_NOTE_CHARS:
        raise ReasonError("note_too_long", f"notes are at most {MAX_NOTE_CHARS} characters")
    return _ACTIONS[action](session, application, actor, now, text)


def _approve(
    session: Session, application: RefundApplication, actor: str, now: dt.datetime, note: str | None
) -> RefundApplication:
    return store.approve(session, application=application, actor=actor, now=now, note=note)


def _reject(
    session: Session, application: RefundApplication, actor: str, now: dt.datetime, note: str | None
) -> RefundApplication:
    if note is None:
        raise ReasonError("reason_missing", "a rejection needs a reason the buyer can read")
    return store.transition(
        session, application=application, to=RefundStatus.REJECTED, actor=actor, now=now, note=note
    )


def _request_info(
    session: Session, application: RefundApplication, actor: str, now: dt.datetime, note: str | None
) -> RefundApplication:
    if note is None:
        raise ReasonError("question_missing", "say what the buyer should tell you")
    # Not a status change: an event from a status to itself carries the question.
    return store.annotate(session, application=application, actor=actor, now=now, note=note)


def _to(
    status: RefundStatus,
) -> Callable[[Session, RefundApplication, str, dt.datetime, str | None], RefundApplication]:
    def move(
        session: Session,
        application: RefundApplication,
        actor: str,
        now: dt.datetime,
        note: str | None,
    ) -> RefundApplication:
        return store.transition(
            session, application=application, to=status, actor=actor, now=now, note=note
        )

    return move


_ACTIONS: dict[
    ReviewAction,
    Callable[[Session, RefundApplication, str, dt.datetime, str | None], RefundApplication],
] = {
    ReviewAction.APPROVE: _approve,
    ReviewAction.REJECT: _reject,
    ReviewAction.REQUEST_INFO: _request_info,
    ReviewAction.RETURN_RECEIVED: _to(RefundStatus.RETURN_RECEIVED),
    ReviewAction.REFUNDED: _to(RefundStatus.REFUNDED),
}
