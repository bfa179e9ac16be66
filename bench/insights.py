"""``make bench-report``: how long ``refundbot report`` takes on a large generated history.

Generates ``--conversations`` conversations (default 10,000) over ``--days`` days into a fresh,
migrated SQLite file (or the database of ``--database-url``): each with six buyer messages and
the bot's replies; a fifth handed to people; two in five with a refund application submitted,
decided, returned and refunded through the refund store's own functions, so the audited events
are the ones production writes; three in ten asked the satisfaction survey. Then times the
report over the whole history and over its last seven days, ``--repeat`` times each, and fails
when the median of the whole is over ``--max-seconds``. A table on stdout and
``results/report_bench.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session

from bench.report import machine, machine_load, text_table
from bot.contract import HandoffReason
from bot.gateway.models import (
    Channel,
    Conversation,
    Direction,
    MessageStatus,
    SenderKind,
    TranscriptMessage,
)
from bot.handoff import queue
from bot.insights.report import build_report
from bot.refunds import store
from bot.refunds.db import dispose, get_sessionmaker
from bot.refunds.enums import OrderStatus, ReasonCategory, RefundMethod, RefundStatus
from bot.refunds.migrate import upgrade
from bot.refunds.models import Order, OrderItem
from bot.settings import PolicySettings
from bot.survey.models import SatisfactionSurvey, SurveyEvent

START = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
REASON = "The zipper broke on the first day; the seam is torn along the whole side."
REASONS = [r for r in HandoffReason if r is not HandoffReason.AGENT_TOOK_OVER]
ORDER_STATUS = {
    RefundMethod.IMMEDIATE: OrderStatus.AWAITING_SHIPMENT,
    RefundMethod.NO_RETURN: OrderStatus.SHIPPED,
    RefundMethod.RETURN_AND_REFUND: OrderStatus.DELIVERED,
}
BATCH = 500


def generate(session: Session, *, index: int, rng: random.Random, days: int) -> None:
    """Write conversation ``index``: its messages, maybe a handoff, maybe an application."""
    at = START + dt.timedelta(seconds=rng.uniform(0, days * 86400))
    channel = Channel.WEBCHAT if rng.random() < 0.6 else Channel.TELEGRAM
    conversation_id = f"bench-{index}"
    session.add(
        Conversation(
            id=conversation_id,
            channel=channel.value,
            last_channel=channel.value,
            handler="bot",
            created_at=at,
            updated_at=at,
        )
    )
    for turn in range(6):
        said = at + dt.timedelta(seconds=20 * turn)
        for direction, sender, when in (
            (Direction.IN, SenderKind.BUYER, said),
            (Direction.OUT, SenderKind.BOT, said + dt.timedelta(seconds=1)),
        ):
            session.add(
                TranscriptMessage(
                    conversation_id=conversation_id,
                    direction=direction.value,
                    sender=sender.value,
                    channel=channel.value,
                    text="…",
                    status=MessageStatus.DONE.value,
                    created_at=when,
                )
            )
    session.flush()
    if rng.random() < 0.2:
        queue.request_handoff(
            session,
            conversation_id=conversation_id,
            reason=rng.choice(REASONS),
            now=at + dt.timedelta(minutes=2),
        )
    if rng.random() < 0.4:
        _application(session, index=index, rng=rng, at=at + dt.timedelta(minutes=3))
    if rng.random() < 0.3:
        # The satisfaction survey: asked after the conversation, rated two times in three.
        rated = rng.random() < 2 / 3
        asked = at + dt.timedelta(minutes=4)
        session.add(
            SatisfactionSurvey(
                conversation_id=conversation_id,
                event=rng.choice(list(SurveyEvent)).value,
                channel=channel.value,
                asked_at=asked,
                rating=rng.randint(1, 5) if rated else None,
                rated_at=asked + dt.timedelta(seconds=30) if rated else None,
            )
        )


def _application(session: Session, *, index: int, rng: random.Random, at: dt.datetime) -> None:
    method = rng.choice(list(RefundMethod))
    # A no-return refund is offered up to the policy's threshold (20.00) on a parcel on time.
    top = 2000 if method is RefundMethod.NO_RETURN else 15000
    amount = Decimal(rng.randint(500, top)) / 100
    customer = store.ensure_customer(
        session, customer_id=f"bench-{index}", email=f"b{index}@example.com", now=at
    )
    status = ORDER_STATUS[method]
    shipped = status is not OrderStatus.AWAITING_SHIPMENT
    order = Order(
        id=f"{9_000_000_000_000_000 + index:016d}",
        customer_id=customer.id,
        customer_email=customer.email,
        status=status.value,
        currency=rng.choice(["USD", "EUR", "GBP"]),
        total=amount,
        paid_at=at - dt.timedelta(days=10),
        ship_by=at + dt.timedelta(days=3) if not shipped else at - dt.timedelta(days=7),
        shipped_at=at - dt.timedelta(days=8) if shipped else None,
        promised_delivery_by=at + dt.timedelta(days=10),
        delivered_at=at - dt.timedelta(days=2) if status is OrderStatus.DELIVERED else None,
        updated_at=at,
    )
    order.items = [OrderItem(sku="SKU", title="Item", quantity=1, unit_price=amount)]
    session.add(order)
    session.flush()
    application = store.submit_application(
        session,
        customer_id=customer.id,
        order_id=order.id,
        method=method,
        amount=amount,
        reason=REASON,
        reason_category=ReasonCategory.DAMAGED,
        idempotency_key=f"bench-{index}",
        conversation_id=f"bench-{index}",
        now=at,
        settings=PolicySettings(),
    ).application
    if application.status != RefundStatus.PENDING_REVIEW.value:
        return
    roll = rng.random()
    decided = at + dt.timedelta(hours=rng.uniform(0.1, 72))
    if roll < 0.15:
        store.transition(
            session, application=application, to=RefundStatus.REJECTED, actor="m", now=decided
        )
    elif roll < 0.75:
        store.approve(session, application=application, actor="merchant", now=decided)
        if application.status == RefundStatus.AWAITING_RETURN.value and rng.random() < 0.5:
            back = decided + dt.timedelta(days=rng.uniform(1, 6))
            for step, when in (
                (RefundStatus.RETURN_RECEIVED, back),
                (RefundStatus.REFUNDED, back + dt.timedelta(hours=rng.uniform(1, 48))),
            ):
                store.transition(session, application=application, to=step, actor="m", now=when)


def timed(url: str, *, since: dt.datetime, until: dt.datetime, repeat: int) -> list[float]:
    """Return the seconds each of ``repeat`` reports on ``[since, until)`` took."""
    factory = get_sessionmaker(url)
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        with factory.begin() as session:
            build_report(session, since=since, until=until)
        seconds.append(time.perf_counter() - started)
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Generate the history, time the report, write the results; 1 when over the target."""
    parser = argparse.ArgumentParser(prog="python -m bench.insights", description=__doc__)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=2.0)
    parser.add_argument("--database-url", default="", help="a migrated, empty database")
    parser.add_argument("--out", type=Path, default=Path("results"))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'report-bench.db'}"
        if not args.database_url:
            upgrade(url)
        rng = random.Random(7)
        started = time.perf_counter()
        factory = get_sessionmaker(url)
        for first in range(0, args.conversations, BATCH):
            with factory.begin() as session:
                for index in range(first, min(first + BATCH, args.conversations)):
                    generate(session, index=index, rng=rng, days=args.days)
        generated = time.perf_counter() - started
        end = START + dt.timedelta(days=args.days + 1)
        periods = {
            "whole history": (START, end),
            "last 7 days": (end - dt.timedelta(days=7), end),
        }
        runs = {
            name: timed(url, since=since, until=until, repeat=args.repeat)
            for name, (since, until) in periods.items()
        }
        dispose(url)

    rows = [
        [name, f"{min(s):.3f}", f"{statistics.median(s):.3f}", f"{max(s):.3f}"]
        for name, s in runs.items()
    ]
    print(f"{args.conversations} conversations generated in {generated:.1f} s; {machine_load()}")
    print(text_table(["period", "min s", "median s", "max s"], rows))
    whole = statistics.median(runs["whole history"])
    passed = whole <= args.max_seconds
    print(
        f"target: the whole history's median under {args.max_seconds} s: "
        + ("met" if passed else "MISSED")
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report_bench.json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "conversations": args.conversations,
                "days": args.days,
                "generated_seconds": round(generated, 3),
                "runs_seconds": {k: [round(x, 4) for x in v] for k, v in runs.items()},
                "max_seconds": args.max_seconds,
                "passed": passed,
            },
            indent=2,
        )
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
