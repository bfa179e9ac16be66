"""The queues ``/metrics`` reads at scrape time, from the tables the parts write."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import sessionmaker

from bot.api.delivery import Outcome, claim_due, dispatch, record
from bot.api.webhooks import create_webhook
from bot.gateway.notifier import start_cursor
from bot.observability.backlogs import read_backlogs, reader
from bot.observability.metrics import BacklogCollector, GatewayMetrics
from bot.refunds.db import get_sessionmaker
from bot.refunds.outbox import REFUND_CREATED
from tests.factories import NOW, submit_for_review


def test_the_notifiers_and_the_webhooks_backlogs_and_their_age(
    session_factory: sessionmaker,
) -> None:
    with session_factory.begin() as session:
        assert read_backlogs(session, now=NOW).notifier_pending_events == 0  # no cursor yet
        start_cursor(session)
        create_webhook(session, url="https://shop.example/hook", events=[REFUND_CREATED], now=NOW)
        submit_for_review(session)
    with session_factory.begin() as session:
        assert dispatch(session, now=NOW, window=dt.timedelta(hours=24)) == 1
    later = NOW + dt.timedelta(seconds=90)
    with session_factory.begin() as session:
        backlogs = read_backlogs(session, now=later)
    assert backlogs.notifier_pending_events == 1
    assert backlogs.notifier_lag_seconds == 90
    assert dict(backlogs.webhook_deliveries) == {"pending": 1}
    assert backlogs.webhook_lag_seconds == 90
    assert (backlogs.handoffs_waiting, backlogs.handoff_oldest_wait_seconds) == (0, 0)


def test_webhook_deliveries_being_retried_and_given_up(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        for shop in ("a", "b"):
            create_webhook(
                session, url=f"https://{shop}.example/hook", events=[REFUND_CREATED], now=NOW
            )
        submit_for_review(session)
    with session_factory.begin() as session:
        dispatch(session, now=NOW, window=dt.timedelta(hours=24))
    with session_factory.begin() as session:
        first, second = claim_due(session, now=NOW, limit=10)
    with session_factory.begin() as session:
        record(session, claimed=first, outcome=Outcome(at=NOW, duration_ms=5, status_code=500))
        past_window = NOW + dt.timedelta(hours=25)
        record(session, claimed=second, outcome=Outcome(at=past_window, duration_ms=5, error="x"))
    with session_factory.begin() as session:
        backlogs = read_backlogs(session, now=NOW + dt.timedelta(minutes=10))
    assert dict(backlogs.webhook_deliveries) == {"retrying": 1, "failed": 1}
    # The one still being retried is ten minutes late; the failed one is no longer waited for.
    assert backlogs.webhook_lag_seconds == 600


def test_a_scrape_says_when_the_database_cannot_be_read(tmp_path: Path) -> None:
    # A database without the product's tables: every query fails, the scrape does not.
    unmigrated = get_sessionmaker(f"sqlite:///{tmp_path}/empty.sqlite", read_only=True)
    metrics = GatewayMetrics(channels=["webchat"])
    metrics.add(BacklogCollector(reader(unmigrated)))
    text = metrics.render().decode()
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples["refundbot_backlogs_readable"] == 0
    assert "refundbot_handoff_queue_length" not in samples
