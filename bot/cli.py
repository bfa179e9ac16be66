"""The ``refundbot`` command: database, demo data, order import, refunds, running, chatting."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.clock import utcnow
from bot.settings import ConfigError, Settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"refundbot: configuration error: {e}", file=sys.stderr)
        return 2
    status: int = args.handler(settings, args)
    return status


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="refundbot",
        description="Refund assistant: operate the refund store and run the assistant.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    db = commands.add_parser("db", help="database schema").add_subparsers(metavar="ACTION")
    upgrade = db.add_parser("upgrade", help="apply the migrations (REFUNDBOT_DATABASE_URL)")
    upgrade.set_defaults(handler=_db_upgrade)

    demo = commands.add_parser("demo", help="demo data").add_subparsers(metavar="ACTION")
    seed = demo.add_parser("seed", help="upsert the demo customers and orders (dates from now)")
    seed.set_defaults(handler=_demo_seed)

    orders = commands.add_parser("orders", help="orders").add_subparsers(metavar="ACTION")
    imp = orders.add_parser(
        "import",
        help="upsert orders from a JSON array file, by order_id",
        description=(
            "Import orders from FILE, one JSON array of orders, upserted by order_id. "
            "Each order: order_id (12-19 digits), customer_id, customer_email, status "
            "(awaiting_shipment|shipped|delivered|cancelled), currency, total (a decimal "
            "string), paid_at, ship_by, shipped_at|null, promised_delivery_by, "
            "delivered_at|null (ISO-8601 with a zone), items [{sku, title, quantity, "
            "unit_price}]. Bad rows are reported with their index; good rows still import."
        ),
    )
    imp.add_argument("file", type=Path, help="JSON file ('-' reads standard input)")
    imp.set_defaults(handler=_orders_import)

    refunds = commands.add_parser("refunds", help="refund applications").add_subparsers(
        metavar="ACTION"
    )
    listing = refunds.add_parser("list", help="print refund applications, newest first")
    listing.add_argument("--order", help="only this order's applications")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=_refunds_list)
    sweep = refunds.add_parser(
        "sweep", help="approve applications whose merchant review deadline has passed"
    )
    sweep.set_defaults(handler=_refunds_sweep)

    run = commands.add_parser(
        "run",
        help="start the action server, Rasa and the gateway; keep them up until Ctrl-C",
    )
    run.add_argument("--model", type=Path, default=None, help="trained model (.tar.gz)")
    run.add_argument(
        "--rasa-workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="Rasa servers to start, on REFUNDBOT_RASA_URL's port and the next ones"
        " (default: 2, or 1 on a machine with one core)",
    )
    run.set_defaults(handler=_run)

    token = commands.add_parser(
        "token",
        help="print a signed widget token and Telegram deep-link parameter for a customer",
        description=(
            "Print the identity token a shop gives the web widget for CUSTOMER_ID (signed "
            "with REFUNDBOT_SHOP_SECRET), and the /start parameter for a Telegram deep link."
        ),
    )
    token.add_argument("customer_id", help="the shop's customer id, e.g. c-1001")
    token.add_argument("--ttl", type=int, default=None, help="seconds the token is valid")
    token.set_defaults(handler=_token)

    shell = commands.add_parser("shell", help="chat with the running assistant in the terminal")
    shell.add_argument("--customer", default="c-1001", help="demo customer id ('' = anonymous)")
    shell.set_defaults(handler=_shell)

    from bot.api.cli import register as register_api_key_commands
    from bot.cluster.control import register as register_cluster_commands
    from bot.console.cli import register as register_agent_commands
    from bot.insights.cli import register as register_report_command
    from bot.nlu_cli import register as register_parse_command
    from bot.review.cli import register as register_export_command

    register_cluster_commands(commands)
    register_agent_commands(commands)
    register_api_key_commands(commands)
    register_report_command(commands)
    nlu = commands.add_parser("nlu", help="what the model understands; reviewed messages")
    nlu_actions = nlu.add_subparsers(metavar="ACTION")
    register_parse_command(nlu_actions)
    register_export_command(nlu_actions)
    return parser


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from bot.refunds.migrate import upgrade

    upgrade(settings.database_url)
    print(f"database is up to date: {_safe_url(settings.database_url)}")
    return 0


def _demo_seed(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import utcnow
    from bot.refunds.db import get_sessionmaker
    from bot.refunds.demo import seed_demo

    with get_sessionmaker(settings.database_url).begin() as session:
        seed_demo(session, now=utcnow(), settings=settings.policy)
    print("demo customers and orders are in place (customers c-1001, c-1002, c-1003)")
    return 0


def _orders_import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import utcnow
    from bot.refunds.db import get_sessionmaker
    from bot.refunds.errors import ImportRowError
    from bot.refunds.imports import import_orders, load_rows

    try:
        raw = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        print(f"refundbot: cannot read {args.file}: {e}", file=sys.stderr)
        return 2
    try:
        rows = load_rows(raw)
        with get_sessionmaker(settings.database_url).begin() as session:
            report = import_orders(session, rows=rows, now=utcnow())
    except ImportRowError as e:
        print(f"refundbot: {e}", file=sys.stderr)
        return 2
    for problem in report.problems:
        order = f" (order {problem.order_id})" if problem.order_id else ""
        print(f"row {problem.index}{order}: {problem.message}", file=sys.stderr)
    print(
        f"imported {report.created} new and {report.updated} updated orders; "
        f"{len(report.problems)} rows rejected"
    )
    return 1 if report.problems else 0


def _refunds_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.refunds import store
    from bot.refunds.db import get_sessionmaker

    with get_sessionmaker(settings.database_url).begin() as session:
        rows = [
            {
                "application_id": a.reference,
                "order_id": a.order_id,
                "method": a.method,
                "amount": str(a.amount),
                "currency": a.currency,
                "reason": a.reason,
                "reason_category": a.reason_category,
                "status": a.status,
                "compensation": str(a.compensation),
                "created_at": a.created_at.isoformat(),
            }
            for a in store.list_applications(session, order_id=args.order)
        ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no refund applications")
        return 0
    columns = ["application_id", "order_id", "method", "amount", "currency", "status", "reason"]
    table = [[str(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i][:40]) for r in table)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in table:
        print("  ".join(v[:40].ljust(w) for v, w in zip(r, widths, strict=True)))
    return 0


def _refunds_sweep(settings: Settings, args: argparse.Namespace) -> int:
    from bot.refunds import store
    from bot.refunds.db import get_sessionmaker

    with get_sessionmaker(settings.database_url).begin() as session:
        approved = store.approve_overdue(session, now=utcnow())
        references = [a.reference for a in approved]
    print(f"approved {len(references)} overdue applications" + (": " if references else ""))
    for reference in references:
        print(f"  {reference}")
    return 0


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.run import run_all

    return run_all(settings, model=args.model, rasa_workers=args.rasa_workers)


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from bot.gateway.identity import make_start_parameter, make_token
    from bot.settings import ensure_shop_secret

    secret = ensure_shop_secret(settings)
    ttl = args.ttl if args.ttl is not None else settings.gateway.token_ttl_seconds
    if ttl <= 0:
        print("refundbot: --ttl must be a positive number of seconds", file=sys.stderr)
        return 2
    print(f"widget token:      {make_token(secret, args.customer_id, ttl)}")
    print(f"telegram /start:   {make_start_parameter(secret, args.customer_id, ttl)}")
    return 0


def _shell(settings: Settings, args: argparse.Namespace) -> int:
    from bot.shell import chat

    return chat(settings, customer_id=args.customer or None)


def _safe_url(url: str) -> str:
    """Return the URL without its password, for printing."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


if __name__ == "__main__":
    raise SystemExit(main())
