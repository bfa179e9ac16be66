"""``refundbot agent``: register console agents, list them, (de)activate them, set passwords.

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
    add.add_argument("--role", choices=["agent", "merchant", "admin"], default="agent")
    add.add_argument("--display-name", default=None, help="shown to buyers (default: NAME)")
    add.set_defaults(handler=_agent_add)
    listing = agent.add_parser(
        "list", help="print the registered agents (name, role, display name, active|inactive)"
    )
    listing.set_defaults(handler=_agent_list)
    deactivate = agent.add_parser(
        "deactivate",
        help="stop an agent from signing in; their sessions end at once",
        description=(
            "Deactivate an agent: they can no longer sign in, their next console request is "
            "refused and their open console page is closed at its next ping (within 30 s)."
        ),
    )
    deactivate.add_argument("name")
    deactivate.set_defaults(handler=_agent_deactivate)
    activate = agent.add_parser("activate", help="let a deactivated agent sign in again")
    activate.add_argument("name")
    activate.set_defaults(handler=_agent_activate)
    password = agent.add_parser(
        "password",
        help="set an agent's password; their sessions end",
        description=(
            "Set an agent's password, read like 'agent add' does. Every session of the agent "
            "ends and the browsers they signed in with before are no longer known."
        ),
    )
    password.add_argument("name")
    password.set_defaults(handler=_agent_password)


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
        state = "active" if agent.active else "inactive"
        print(f"{agent.name}\t{agent.role.value}\t{agent.display_name}\t{state}")
    return 0


def _agent_deactivate(settings: Settings, args: argparse.Namespace) -> int:
    return _set_active(settings, args.name, active=False)


def _agent_activate(settings: Settings, args: argparse.Namespace) -> int:
    return _set_active(settings, args.name, active=True)


def _set_active(settings: Settings, name: str, *, active: bool) -> int:
    from bot.console.auth import NoSuchAgent, set_active
    from bot.refunds.db import get_sessionmaker

    try:
        with get_sessionmaker(settings.database_url).begin() as session:
            agent, changed = set_active(session, name=name, active=active)
    except NoSuchAgent:
        return _no_such_agent(name)
    state = "active" if active else "inactive"
    if not changed:
        print(f"agent {agent.name} was {state} already")
    else:
        print(f"agent {agent.name} is {'active' if active else 'deactivated'}")
    return 0


def _agent_password(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.auth import NoSuchAgent, find_agent, set_password
    from bot.refunds.db import get_sessionmaker

    sessions = get_sessionmaker(settings.database_url)
    try:
        # Say so before asking for a password nobody could use.
        with sessions.begin() as session:
            find_agent(session, name=args.name)
        password = _read_password()
        if password is None:
            return 2
        with sessions.begin() as session:
            agent = set_password(session, name=args.name, password=password)
    except NoSuchAgent:
        return _no_such_agent(args.name)
    except ValueError as e:
        print(f"refundbot: {e}", file=sys.stderr)
        return 2
    print(f"agent {agent.name} has a new password; their sessions ended")
    return 0


def _no_such_agent(name: str) -> int:
    print(f"refundbot: there is no agent named {name!r}", file=sys.stderr)
    return 1
