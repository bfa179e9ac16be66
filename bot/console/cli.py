"""``refundbot agent``: register console agents and list them.

Wired into :mod:`bot.cli` with ``bot.console.cli.register(commands)``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from bot.settings import Settings


def register(subparsers: Any) -> None:
    """Add the ``agent`` command to the ``refundbot`` parser's subcommands."""
    agent = subparsers.add_parser("agent", help="agent console accounts").add_subparsers(
        metavar="ACTION"
    )
    add = agent.add_parser(
        "add",
        help="register an agent who signs in to /console",
        description=(
            "Register an agent. The password is read from standard input when it is not a "
            "terminal (one line), otherwise asked twice without echo."
        ),
    )
    add.add_argument("name", help="sign-in name: a-z, 0-9, '.', '_', '-'")
    add.add_argument("--role", choices=["agent", "admin"], default="agent")
    add.add_argument("--display-name", default=None, help="shown to buyers (default: NAME)")
    add.set_defaults(handler=_agent_add)
    listing = agent.add_parser("list", help="print the registered agents")
    listing.set_defaults(handler=_agent_list)


def _read_password() -> str | None:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        print("refundbot: the passwords differ", file=sys.stderr)
        return None
    return first


def _agent_add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import utcnow
    from bot.console.auth import AgentExists, create_agent
    from bot.console.models import Role
    from bot.refunds.db import get_sessionmaker

    password = _read_password()
    if password is None:
        return 2
    try:
        with get_sessionmaker(settings.database_url).begin() as session:
            agent = create_agent(
                session,
                name=args.name,
                password=password,
                role=Role(args.role),
                display_name=args.display_name,
                now=utcnow(),
            )
    except AgentExists:
        print(f"refundbot: an agent named {args.name!r} exists already", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"refundbot: {e}", file=sys.stderr)
        return 2
    print(f"agent {agent.name} ({agent.role.value}) added; sign in at /console")
    return 0


def _agent_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.auth import list_agents
    from bot.refunds.db import get_sessionmaker

    with get_sessionmaker(settings.database_url).begin() as session:
        agents = list_agents(session)
    for agent in agents:
        print(f"{agent.name}\t{agent.role.value}\t{agent.display_name}")
    return 0
