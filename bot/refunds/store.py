"""The refund store: every read and write of orders and applications.

Functions take an open ``session`` (keyword-only) and never commit: the caller owns the unit of
work (``with factory.begin() as session:``). Every status change writes a :class:`RefundEvent`,
and, in the same unit of work, the webhook outbox row of the event (:mod:`bot.refunds.outbox`)
with the application as it stands after the change (:mod:`bot.refunds.presented`).

Buyers, agents and the review-deadline sweep change one application's status from separate units
of work. Each change is therefore conditional on the status it was decided from (``UPDATE ...
WHERE id = :id AND status = :read``): when someone else moved the application first, nothing is
written and the loser gets :class:`TransitionNotAllowed` with the status as it is now.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from bot.refunds import outbox, policy, presented
from bot.refunds.enums import OrderStatus, ReasonCategory, RefundMethod, RefundStatus, Review
from bot.refunds.errors import (
    ApplicationNotFound,
    OrderNotFound,
    ReasonError,
    RefundError,
    TransitionNotAllowed,
)
from bot.refunds.models import Customer, Evidence, Order, RefundApplication, RefundEvent
from bot.refunds.reading import CENT, REFERENCE_ALPHABET
from bot.settings import PolicySettings

SYSTEM = "system"


def customer_actor(customer_id: str) -> str:
    """Return the audit name of a buyer."""
    return f"customer:{customer_id}"


def is_customer_actor(actor: str) -> bool:
    """Return True when an event's ``actor`` is a buyer (see :func:`customer_actor`)."""
    return actor.startswith("customer:")


# --- orders ---------------------------------------------------------------------------------


def find_order(
    session: Session, *, order_id: str, customer_id: str, for_update: bool = False
) -> Order:
    """Return the customer's order; another customer's order is :class:`OrderNotFound` too."""
    query = select(Order).where(Order.id == order_id, Order.customer_id == customer_id)
    if for_update:
        query = query.with_for_update()
    order: Order | None = session.execute(query).scalar_one_or_none()
    if order is None:
        raise OrderNotFound(f"order {order_id} not found", order_id=order_id)
    return order


def verify_order_email(session: Session, *, order_id: str, email: str) -> Order:
    """Return the order when ``email`` is the one on it (anonymous buyers prove ownership so)."""
    order: Order | None = session.get(Order, order_id)
    given = email.strip().lower().encode()
    expected = (order.customer_email.strip().lower() if order else secrets.token_hex(16)).encode()
    if order is None or not hmac.compare_digest(given, expected):
        raise OrderNotFound(f"order {order_id} not found for that e-mail", order_id=order_id)
    return order


def customer_orders(session: Session, *, customer_id: str) -> list[Order]:
    """Return the customer's orders, newest payment first."""
    query = (
        select(Order)
        .where(Order.customer_id == customer_id)
        .order_by(Order.paid_at.desc())
        .options(selectinload(Order.items))
    )
    return list(session.execute(query).scalars())


def committed_amount(session: Session, *, order_id: str) -> Decimal:
    """Return what the order's live applications already refund or request."""
    amounts = session.execute(
        select(RefundApplication.amount).where(
            RefundApplication.order_id == order_id,
            RefundApplication.status.not_in([s.value for s in policy.RELEASED_STATUSES]),
        )
    ).scalars()
    return sum(amounts, Decimal("0.00"))


def order_facts(session: Session, *, order: Order) -> policy.OrderFacts:
    """Return what the policy needs to know about ``order``."""
    return policy.OrderFacts(
        status=OrderStatus(order.status),
        currency=order.currency,
        total=order.total,
        committed=committed_amount(session, order_id=order.id),
        ship_by=order.ship_by,
        promised_delivery_by=order.promised_delivery_by,
        shipped_at=order.shipped_at,
        delivered_at=order.delivered_at,
    )


# --- applications ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """The result of :func:`submit_application`."""

    application: RefundApplication
    created: bool
    """False when the idempotency key had already been used: the earlier application."""


def submit_application(
    session: Session,
    *,
    customer_id: str,
    order_id: str,
    method: RefundMethod,
    amount: Decimal,
    reason: str,
    reason_category: ReasonCategory | None,
    idempotency_key: str,
    conversation_id: str | None,
    now: dt.datetime,
    settings: PolicySettings,
    actor: str | None = None,
) -> Submission:
    """Create a refund application, or return the one already made with ``idempotency_key``.

    The order row is locked first, so concurrent submissions on one order are serialised and
    the refundable balance is read and spent in one step. ``actor`` is who files it in the audit
    trail: the buyer unless given (a seller, through the shop API).

    Raises:
        OrderNotFound, MethodNotOffered, AmountError, ReasonError: the application is refused.
    """
    order = find_order(session, order_id=order_id, customer_id=customer_id, for_update=True)
    existing = session.execute(
        select(RefundApplication).where(RefundApplication.idempotency_key == idempotency_key)
    ).scalar_one_or_none()
    if existing is not None:
        if existing.customer_id != customer_id or existing.order_id != order.id:
            raise RefundError("idempotency key already used for another order")
        return Submission(existing, created=False)

    facts = order_facts(session, order=order)
    decision = policy.decide(facts, method, amount, now, settings)
    reason = policy.check_reason(method, reason)
    if method is RefundMethod.RETURN_AND_REFUND and reason_category is None:
        raise ReasonError("category_missing", "return and refund needs a reason category")

    application = RefundApplication(
        reference=_new_reference(),
        order_id=order.id,
        customer_id=customer_id,
        method=method.value,
        amount=amount.quantize(CENT),
        compensation=decision.compensation,
        currency=order.currency,
        reason_category=reason_category.value if reason_category else None,
        reason=reason,
        status=RefundStatus.PENDING_REVIEW.value,
        review=decision.review.value,
        review_due_at=decision.review_due_at,
        conversation_id=conversation_id,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    session.flush()
    filer = actor or customer_actor(customer_id)
    _record(session, application, None, RefundStatus.PENDING_REVIEW, filer, now)
    if decision.review is Review.AUTOMATIC:
        note: str | None = "approved automatically"
        if decision.fault:
            note = f"{note} ({decision.fault.value.replace('_', ' ')})"
        for status in policy.automatic_path(method):
            transition(
                session, application=application, to=status, actor=SYSTEM, now=now, note=note
            )
            note = None
    if method is RefundMethod.IMMEDIATE and order.total - facts.committed - amount <= 0:
        # Nothing left to ship for: a fully refunded order that never shipped is cancelled.
        order.status = "cancelled"
        order.updated_at = now
    if conversation_id:
        session.execute(
            update(Evidence)
            .where(Evidence.conversation_id == conversation_id, Evidence.application_id.is_(None))
            .values(application_id=application.id)
        )
    return Submission(application, created=True)


def transition(
    session: Session,
    *,
    application: RefundApplication,
    to: RefundStatus,
    actor: str,
    now: dt.datetime,
    note: str | None = None,
) -> RefundApplication:
    """Move ``application`` to ``to`` and record the event.

    Raises:
        TransitionNotAllowed: the current status does not allow ``to``, or the application was
            moved on since it was read (``current`` is then its status as it is now).
    """
    current = RefundStatus(application.status)
    policy.check_transition(current, to)
    _compare_and_set(session, application, current, to, now)
    _record(session, application, current, to, actor, now, note)
    return application


def annotate(
    session: Session, *, application: RefundApplication, actor: str, now: dt.datetime, note: str
) -> RefundApplication:
    """Record an event that keeps the status and carries ``note`` (a question to the buyer).

    Raises:
        TransitionNotAllowed: the application was moved on since it was read.
    """
    current = RefundStatus(application.status)
    _compare_and_set(session, application, current, current, now)
    _record(session, application, current, current, actor, now, note)
    return application


def add_buyer_note(
    session: Session,
    *,
    application: RefundApplication,
    customer_id: str,
    now: dt.datetime,
    note: str,
    return_tracking: str | None = None,
) -> RefundApplication:
    """Attach what the buyer told about ``application`` (an answer, a return tracking number).

    An event from the status to itself, by the buyer, carries the note; a tracking number is
    also kept on the application for the merchant.

    Raises:
        TransitionNotAllowed: the application was moved on since it was read.
    """
    if return_tracking is not None:
        application.return_tracking = return_tracking
    return annotate(
        session, application=application, actor=customer_actor(customer_id), now=now, note=note
    )


def open_question(session: Session, *, application: RefundApplication) -> RefundEvent | None:
    """Return the merchant's latest question on ``application`` if the buyer has not answered.

    It is open while it is the application's latest event: a status change or the buyer's own
    note after it closes it.
    """
    events = events_of(session, application_id=application.id)
    latest = events[-1] if events else None
    if latest is None or latest.from_status != latest.to_status or not latest.note:
        return None
    return None if is_customer_actor(latest.actor) else latest


def approve(
    session: Session,
    *,
    application: RefundApplication,
    actor: str,
    now: dt.datetime,
    note: str | None = None,
) -> RefundApplication:
    """Approve a pending application and move it on as its method requires.

    Raises:
        TransitionNotAllowed: the application is not (or no longer) pending review.
    """
    transition(
        session, application=application, to=RefundStatus.APPROVED, actor=actor, now=now, note=note
    )
    follow = policy.after_approval(RefundMethod(application.method))
    return transition(session, application=application, to=follow, actor=SYSTEM, now=now)


def approve_overdue(
    session: Session, *, now: dt.datetime, customer_id: str | None = None
) -> list[RefundApplication]:
    """Approve every application whose merchant review deadline has passed.

    The rows are locked in id order, so sweeps running at once (the gateway's, a buyer's status
    question) wait for each other instead of deadlocking. On PostgreSQL an application a merchant
    decides on meanwhile is re-checked once the merchant commits, and left out if no longer
    pending; a merchant who comes second gets :class:`TransitionNotAllowed`.
    """
    query = (
        select(RefundApplication)
        .where(
            RefundApplication.status == RefundStatus.PENDING_REVIEW.value,
            RefundApplication.review_due_at.is_not(None),
            RefundApplication.review_due_at < now,
        )
        .order_by(RefundApplication.id)
    )
    if customer_id is not None:
        query = query.where(RefundApplication.customer_id == customer_id)
    # populate_existing: an application this session loaded earlier gets the locked row's values.
    overdue = list(
        session.execute(query.with_for_update().execution_options(populate_existing=True)).scalars()
    )
    for application in overdue:
        approve(
            session,
            application=application,
            actor=SYSTEM,
            now=now,
            note="review deadline passed: approved automatically",
        )
    return overdue


def find_application(session: Session, *, reference: str, customer_id: str) -> RefundApplication:
    """Return the customer's application by its reference; others' are not found."""
    application: RefundApplication | None = session.execute(
        select(RefundApplication).where(
            RefundApplication.reference == reference.strip().upper(),
            RefundApplication.customer_id == customer_id,
        )
    ).scalar_one_or_none()
    if application is None:
        raise ApplicationNotFound(f"application {reference} not found", reference=reference)
    return application


def list_applications(
    session: Session,
    *,
    customer_id: str | None = None,
    order_id: str | None = None,
    statuses: Iterable[RefundStatus] | None = None,
) -> list[RefundApplication]:
    """Return applications, newest first, filtered by customer, order and status."""
    query = select(RefundApplication).order_by(
        RefundApplication.created_at.desc(), RefundApplication.id.desc()
    )
    if customer_id is not None:
        query = query.where(RefundApplication.customer_id == customer_id)
    if order_id is not None:
        query = query.where(RefundApplication.order_id == order_id)
    if statuses is not None:
        query = query.where(RefundApplication.status.in_([s.value for s in statuses]))
    return list(session.execute(query).scalars())


def withdraw(
    session: Session, *, application: RefundApplication, customer_id: str, now: dt.datetime
) -> RefundApplication:
    """Withdraw the buyer's own application; raise TransitionNotAllowed once it is too late."""
    if application.customer_id != customer_id:
        raise ApplicationNotFound("application not found", reference=application.reference)
    return transition(
        session,
        application=application,
        to=RefundStatus.WITHDRAWN,
        actor=customer_actor(customer_id),
        now=now,
        note="withdrawn by the buyer",
    )


def events_of(session: Session, *, application_id: int) -> Sequence[RefundEvent]:
    """Return an application's audit trail, oldest first."""
    return list(
        session.execute(
            select(RefundEvent)
            .where(RefundEvent.application_id == application_id)
            .order_by(RefundEvent.id)
        ).scalars()
    )


def ensure_customer(
    session: Session, *, customer_id: str, email: str, now: dt.datetime
) -> Customer:
    """Return the customer, creating it on first sight."""
    customer: Customer | None = session.get(Customer, customer_id)
    if customer is None:
        customer = Customer(id=customer_id, email=email, created_at=now)
        session.add(customer)
    return customer


def _compare_and_set(
    session: Session,
    application: RefundApplication,
    read: RefundStatus,
    to: RefundStatus,
    now: dt.datetime,
) -> None:
    """Write ``to`` only if the row still has the status ``read``; else raise with the new one.

    On PostgreSQL a concurrent writer's row lock makes this wait, then re-check the status it
    committed. The object is updated as if loaded, so the flush writes no second UPDATE.
    """
    result = session.execute(
        update(RefundApplication)
        .where(RefundApplication.id == application.id, RefundApplication.status == read.value)
        .values(status=to.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(application, attribute_names=["status", "updated_at"])
        raise TransitionNotAllowed(
            f"application {application.reference} is {application.status} now, "
            f"not {read.value}: it cannot become {to.value}",
            current=str(application.status),
            target=to.value,
        )
    set_committed_value(application, "status", to.value)
    set_committed_value(application, "updated_at", now)


def _record(
    session: Session,
    application: RefundApplication,
    from_status: RefundStatus | None,
    to_status: RefundStatus,
    actor: str,
    now: dt.datetime,
    note: str | None = None,
) -> None:
    session.add(
        RefundEvent(
            application_id=application.id,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            actor=actor,
            note=note,
            at=now,
        )
    )
    # The shop's webhooks hear of it from the same commit (bot.refunds.outbox), with the
    # application as it is now: later changes, even in this unit of work, are events of their own.
    kind = outbox.refund_event_type(
        from_status.value if from_status else None,
        to_status.value,
        by_buyer=is_customer_actor(actor),
        note=note,
    )
    if kind is not None:
        outbox.emit(
            session,
            type=kind,
            now=now,
            application_id=application.id,
            data=presented.application(application),
        )


def _new_reference() -> str:
    return "RF-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
