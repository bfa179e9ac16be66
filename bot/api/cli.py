"""``refundbot api-key``: make, list and revoke the shop API's keys.

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
