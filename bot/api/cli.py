"""``refundbot api-key`` and ``refundbot webhooks``: the shop API's keys and its webhooks.

Wired into :mod:`bot.cli` with ``bot.api.cli.register(commands)``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.api.credentials import SCOPES
from bot.settings import Settings


def register(subparsers: Any) -> None:
    """Add the ``api-key`` command to the ``refundbot`` parser's subcommands."""
    api_key = subparsers.add_parser("api-key", help="shop API keys").add_subparsers(
        metavar="ACTION"
    )
    add = api_key.add_parser(
        "add",
        help="make a key for a shop system; its secret is printed once",
        description=(
            "Make an API key for the shop API (/api/v1). The key is printed once: only a hash "
            "of it is kept. Send it as 'Authorization: Bearer KEY'."
        ),
    )
    add.add_argument("name", help="the key's name (a-z, 0-9, '.', '_', '-'); audit trails show it")
    add.add_argument(
        "--scope", dest="scopes", action="extend", nargs="+", choices=SCOPES, required=True
    )
    add.set_defaults(handler=_add)
    listing = api_key.add_parser("list", help="print the keys (name, scopes, created, state)")
    listing.set_defaults(handler=_list)
    revoke = api_key.add_parser("revoke", help="stop a key from working, at once")
    revoke.add_argument("name")
    revoke.set_defaults(handler=_revoke)

    hooks = subparsers.add_parser("webhooks", help="the shop's webhooks").add_subparsers(
        metavar="ACTION"
    )
    hooks.add_parser(
        "list", help="print the webhooks (id, URL, events, deliveries pending/delivered/failed)"
    ).set_defaults(handler=_hooks)
    retry = hooks.add_parser(
        "retry",
        help="send a delivery again now",
        description=(
            "Send a delivery (its id is in GET /api/v1/webhooks/{id}/deliveries) again now, "
            "with a fresh day of retries; with --webhook, every failed delivery of that webhook."
        ),
    )
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", type=int, help="the delivery's id")
    which.add_argument("--webhook", type=int, help="retry every failed delivery of this webhook")
    retry.set_defaults(handler=_retry)
    prune = hooks.add_parser(
        "prune",
        help="remove old finished deliveries and sent events",
        description=(
            "Remove the deliveries that were delivered or failed, with their attempts, once "
            "their retries ended more than DAYS days ago, and the events sent that long ago "
            "that no delivery needs any more; pending deliveries stay. The gateway does this "
            "by itself every hour with REFUNDBOT_WEBHOOK_RETENTION_DAYS."
        ),
    )
    prune.add_argument(
        "--older-than",
        type=_days,
        metavar="DAYS",
        help="days to keep (default: REFUNDBOT_WEBHOOK_RETENTION_DAYS, 30)",
    )
    prune.set_defaults(handler=_prune)


def _add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.api.credentials import KeyExists, create_key
    from bot.clock import utcnow
    from bot.refunds.db import get_sessionmaker

    try:
        with get_sessionmaker(settings.database_url).begin() as session:
            key, secret = create_key(session, name=args.name, scopes=args.scopes, now=utcnow())
            scopes = key.scopes
    except KeyExists:
        print(f"refundbot: an API key named {args.name!r} exists already", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"refundbot: {e}", file=sys.stderr)
        return 2
    print(f"API key {args.name} ({scopes}); it is shown only this once:")
    print(secret)
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.api.credentials import list_keys
    from bot.refunds.db import get_sessionmaker

    with get_sessionmaker(settings.database_url).begin() as session:
        for key in list_keys(session):
            state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
            print(f"{key.name}\t{key.scopes}\tcreated {key.created_at.isoformat()}\t{state}")
    return 0


def _revoke(settings: Settings, args: argparse.Namespace) -> int:
    from bot.api.credentials import NoSuchKey, revoke_key
    from bot.clock import utcnow
    from bot.refunds.db import get_sessionmaker

    try:
        with get_sessionmaker(settings.database_url).begin() as session:
            _, changed = revoke_key(session, name=args.name, now=utcnow())
    except NoSuchKey:
        print(f"refundbot: there is no API key named {args.name!r}", file=sys.stderr)
        return 1
    print(f"API key {args.name} " + ("is revoked" if changed else "was revoked already"))
    return 0


def _hooks(settings: Settings, args: argparse.Namespace) -> int:
    from bot.api import webhooks
    from bot.refunds.db import get_sessionmaker

    with get_sessionmaker(settings.database_url).begin() as session:
        counts = webhooks.counts(session)
        for hook in webhooks.list_webhooks(session):
            seen = counts.get(int(hook.id), {})
            tally = "/".join(str(seen.get(s, 0)) for s in ("pending", "delivered", "failed"))
            print(
                f"{hook.id}\t{hook.url}\t{hook.events}\tcreated {hook.created_at.isoformat()}"
                f"\tpending/delivered/failed {tally}"
            )
    return 0


def _retry(settings: Settings, args: argparse.Namespace) -> int:
    import datetime as dt

    from bot.api import webhooks
    from bot.clock import utcnow
    from bot.refunds.db import get_sessionmaker

    window = dt.timedelta(hours=settings.gateway.webhook_retry_hours)
    try:
        with get_sessionmaker(settings.database_url).begin() as session:
            if args.webhook is not None:
                count = webhooks.retry_failed(
                    session, webhook_id=args.webhook, now=utcnow(), window=window
                )
                print(f"{count} failed deliveries of webhook {args.webhook} will be sent again")
                return 0
            before = webhooks.retry(session, delivery_id=args.id, now=utcnow(), window=window)
    except webhooks.NoSuchWebhook:
        what = f"webhook {args.webhook}" if args.webhook is not None else f"delivery {args.id}"
        print(f"refundbot: there is no {what}", file=sys.stderr)
        return 1
    print(f"delivery {args.id} ({before}) will be sent again now")
    return 0


def _days(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()):
        raise argparse.ArgumentTypeError(f"a whole number of days, got {raw!r}")
    return int(raw)


def _prune(settings: Settings, args: argparse.Namespace) -> int:
    import datetime as dt

    from bot.api.retention import prune_all
    from bot.clock import utcnow
    from bot.refunds.db import get_sessionmaker

    days = settings.gateway.webhook_retention_days if args.older_than is None else args.older_than
    before = utcnow() - dt.timedelta(days=days)
    pruned = prune_all(get_sessionmaker(settings.database_url), before=before)
    print(
        f"removed {pruned.rows} rows older than {days} days: {pruned.deliveries} deliveries, "
        f"{pruned.attempts} attempts, {pruned.events} events"
    )
    return 0
