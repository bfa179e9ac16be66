"""The refundbot command, run as an operator runs it: a real process on a real database."""

from __future__ import annotations

import json
from pathlib import Path

from bot.refunds.migrate import upgrade
from tests.commands import refundbot

GOOD = {
    "order_id": "8041235566701234",
    "customer_id": "c-1001",
    "customer_email": "ana@example.com",
    "status": "delivered",
    "currency": "USD",
    "total": "42.50",
    "paid_at": "2026-11-01T10:00:00Z",
    "ship_by": "2026-11-04T10:00:00Z",
    "shipped_at": "2026-11-02T09:00:00Z",
    "promised_delivery_by": "2026-11-20T00:00:00Z",
    "delivered_at": "2026-11-12T15:30:00Z",
    "items": [{"sku": "A1", "title": "Lamp", "quantity": 1, "unit_price": "42.50"}],
}


def test_import_reports_bad_rows_and_keeps_the_good_ones(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(db_url)
    bad = {**GOOD, "order_id": "123", "total": 42.5}
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps([GOOD, bad]))

    result = refundbot(db_url, "orders", "import", str(orders))

    assert result.returncode == 1
    assert "imported 1 new and 0 updated orders; 1 rows rejected" in result.stdout
    assert "row 1" in result.stderr
    assert "order_id" in result.stderr

    again = refundbot(db_url, "orders", "import", "-", stdin=json.dumps([GOOD]))
    assert again.returncode == 0
    assert "imported 0 new and 1 updated orders; 0 rows rejected" in again.stdout


def test_import_refuses_what_is_not_an_array(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(db_url)
    result = refundbot(db_url, "orders", "import", "-", stdin='{"order_id": "1"}')
    assert result.returncode == 2
    assert "one JSON array" in result.stderr
    result = refundbot(db_url, "orders", "import", "-", stdin="[{oops")
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr
    result = refundbot(db_url, "orders", "import", str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_seeded_demo_lists_its_refund_as_json(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert refundbot(db_url, "db", "upgrade").returncode == 0
    assert refundbot(db_url, "demo", "seed").returncode == 0
    assert refundbot(db_url, "demo", "seed").returncode == 0  # re-seeding changes nothing

    result = refundbot(db_url, "refunds", "list", "--json")

    assert result.returncode == 0, result.stderr
    [application] = json.loads(result.stdout)
    assert application["application_id"].startswith("RF-")
    assert {k: application[k] for k in ("order_id", "method", "amount", "currency", "status")} == {
        "order_id": "8041235566706666",
        "method": "no_return_refund",
        "amount": "10.00",
        "currency": "USD",
        "status": "refunded",
    }
    assert application["reason"] == "one shirt had a stain"
    table = refundbot(db_url, "refunds", "list", "--order", "8041235566706666")
    assert "application_id" in table.stdout.splitlines()[0]
    assert "8041235566706666" in table.stdout


def test_help_names_every_command(tmp_path: Path) -> None:
    result = refundbot(f"sqlite:///{tmp_path / 'x.db'}", "--help")
    for command in (
        "db",
        "demo",
        "orders",
        "refunds",
        "run",
        "shell",
        "api-key",
        "webhooks",
        "report",
        "nlu",
    ):
        assert command in result.stdout
    assert "JSON array" in refundbot("", "orders", "import", "--help").stdout


def test_api_keys_are_shown_once_listed_and_revoked(tmp_path: Path) -> None:
    from bot.api.credentials import authenticate
    from bot.refunds.db import dispose, get_sessionmaker

    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(db_url)
    added = refundbot(
        db_url, "api-key", "add", "shop-backend", "--scope", "orders:write", "refunds:read"
    )
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip().splitlines()[-1]
    assert secret.startswith("rbk_")
    with get_sessionmaker(db_url).begin() as session:
        caller = authenticate(session, token=secret)
    assert caller is not None
    assert caller.scopes == {"orders:write", "refunds:read"}

    listing = refundbot(db_url, "api-key", "list")
    assert listing.returncode == 0
    assert "shop-backend\torders:write refunds:read\tcreated " in listing.stdout
    assert listing.stdout.rstrip().endswith("active")
    assert secret not in listing.stdout
    assert secret.split("_", 2)[2] not in listing.stdout

    taken = refundbot(db_url, "api-key", "add", "shop-backend", "--scope", "orders:read")
    assert taken.returncode == 1
    assert "exists already" in taken.stderr
    bad_scope = refundbot(db_url, "api-key", "add", "x", "--scope", "everything")
    assert bad_scope.returncode == 2
    no_scope = refundbot(db_url, "api-key", "add", "x")
    assert no_scope.returncode == 2

    revoked = refundbot(db_url, "api-key", "revoke", "shop-backend")
    assert revoked.returncode == 0
    assert "is revoked" in revoked.stdout
    assert "revoked 20" in refundbot(db_url, "api-key", "list").stdout
    assert (
        refundbot(db_url, "api-key", "revoke", "shop-backend")
        .stdout.strip()
        .endswith("was revoked already")
    )
    assert refundbot(db_url, "api-key", "revoke", "nobody").returncode == 1
    with get_sessionmaker(db_url).begin() as session:
        assert authenticate(session, token=secret) is None
    dispose(db_url)


def test_webhooks_are_listed_and_a_failed_delivery_is_sent_again(tmp_path: Path) -> None:
    import datetime as dt

    from sqlalchemy import select

    from bot.api import webhooks
    from bot.api.delivery import dispatch
    from bot.api.models import WebhookDelivery
    from bot.refunds.db import dispose, get_sessionmaker
    from tests.factories import NOW, submit_for_review

    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(db_url)
    with get_sessionmaker(db_url).begin() as session:
        hook, _ = webhooks.create_webhook(
            session, url="https://shop.example/hooks", events=["refund.created"], now=NOW
        )
        submit_for_review(session)
        dispatch(session, now=NOW, window=dt.timedelta(hours=24))
        [delivery] = session.execute(select(WebhookDelivery)).scalars()
        delivery.status, delivery.next_attempt_at = "failed", None
        hook_id, delivery_id = int(hook.id), int(delivery.id)
    dispose(db_url)

    listing = refundbot(db_url, "webhooks", "list")
    assert listing.returncode == 0, listing.stderr
    assert "https://shop.example/hooks\trefund.created" in listing.stdout
    assert "pending/delivered/failed 0/0/1" in listing.stdout
    assert "whsec_" not in listing.stdout

    again = refundbot(db_url, "webhooks", "retry", str(delivery_id))
    assert again.returncode == 0, again.stderr
    assert "(failed) will be sent again" in again.stdout
    assert "0/0/1" not in refundbot(db_url, "webhooks", "list").stdout
    assert refundbot(db_url, "webhooks", "retry", "999").returncode == 1
    every = refundbot(db_url, "webhooks", "retry", "--webhook", str(hook_id))
    assert every.stdout.startswith("0 failed deliveries")
    assert refundbot(db_url, "webhooks", "retry").returncode == 2


def test_webhooks_prune_removes_old_finished_deliveries_and_says_how_many(tmp_path: Path) -> None:
    import datetime as dt

    from sqlalchemy import func, select

    from bot.api import webhooks
    from bot.api.delivery import dispatch
    from bot.api.models import OutboxEvent, WebhookDelivery
    from bot.refunds.db import dispose, get_sessionmaker
    from tests.factories import NOW, submit_for_review

    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(db_url)
    with get_sessionmaker(db_url).begin() as session:
        webhooks.create_webhook(
            session, url="https://shop.example/hooks", events=["refund.created"], now=NOW
        )
        submit_for_review(session)
        submit_for_review(session, customer_id="c-2", key="k2")
        dispatch(session, now=NOW, window=dt.timedelta(hours=24))
        first, second = session.execute(select(WebhookDelivery)).scalars()
        first.status, first.next_attempt_at = "failed", None  # retries over since NOW + 24 h
    dispose(db_url)

    century = {"REFUNDBOT_WEBHOOK_RETENTION_DAYS": "36500"}
    kept = refundbot(db_url, "webhooks", "prune", env=century)
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.startswith("removed 0 rows older than 36500 days")
    pruned = refundbot(db_url, "webhooks", "prune", "--older-than", "0", env=century)
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.strip() == (
        "removed 2 rows older than 0 days: 1 deliveries, 0 attempts, 1 events"
    )
    with get_sessionmaker(db_url).begin() as session:
        [left] = session.execute(select(WebhookDelivery)).scalars()
        assert left.status == "pending"  # never removed
        assert session.execute(select(func.count()).select_from(OutboxEvent)).scalar_one() == 1
    dispose(db_url)
    assert refundbot(db_url, "webhooks", "prune", "--older-than", "-1").returncode == 2
