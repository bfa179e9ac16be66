"""``refundbot nlu export-reviewed``: the reviewed messages as NLU training data.

Wired into :mod:`bot.cli` with ``bot.review.cli.register(actions)`` (the ``nlu`` subcommands).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.settings import PROJECT_ROOT, Settings

NLU_DATA = PROJECT_ROOT / "data" / "nlu"
#: The held-out test sets of every language: tests/nlu_heldout.yml, tests/nlu_heldout_<code>.yml.
HELD_OUT = tuple(sorted((PROJECT_ROOT / "tests").glob("nlu_heldout*.yml")))


def register(actions: Any) -> None:
    """Add ``export-reviewed`` to the ``refundbot nlu`` subcommands."""
    export = actions.add_parser(
        "export-reviewed",
        help="write the reviewed buyer messages as Rasa NLU YAML",
        description=(
            "Write the buyer messages reviewers gave an intent to (console, NLU review) as a "
            "Rasa NLU YAML file to merge into data/nlu, leaving out the held-out test set's "
            "wordings and examples data/nlu already has. E-mail addresses and runs of 7 or "
            "more digits are masked. An --out file under data/nlu is rewritten whole (its own "
            "examples do not count as known), so run it without --since to keep them all. "
            "Then `make validate` and `make train`."
        ),
    )
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.add_argument("--since", help="only verdicts given from this day on, YYYY-MM-DD (UTC)")
    export.add_argument("--data", type=Path, default=NLU_DATA, help="the NLU data to not repeat")
    export.add_argument(
        "--held-out",
        type=Path,
        action="append",
        help="a held-out test set to never include (repeatable; default: every language's)",
    )
    export.set_defaults(handler=_export_reviewed)


def _export_reviewed(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import utcnow
    from bot.insights.period import BadPeriod, parse_day
    from bot.refunds.db import get_sessionmaker
    from bot.review import export, store
    from bot.review.project import load_project

    try:
        since = parse_day(args.since, "--since") if args.since else None
    except BadPeriod as e:
        print(f"refundbot: {e}", file=sys.stderr)
        return 2
    held_out_sets = args.held_out or list(HELD_OUT)
    if not held_out_sets:
        print("refundbot: no held-out test set (tests/nlu_heldout*.yml)", file=sys.stderr)
        return 2
    checked = [(path, "held-out test set") for path in held_out_sets] + [(args.data, "NLU data")]
    for path, what in checked:
        if not path.exists():
            # Without it the export could hand test sentences or repeats to training.
            print(f"refundbot: the {what} is not at {path}", file=sys.stderr)
            return 2
    project = load_project()
    with get_sessionmaker(settings.database_url, read_only=True).begin() as session:
        result = export.collect(
            store.assigned(session, since=since),
            intents=project.intents,
            entities=project.entities,
            held_out=[text for path in held_out_sets for text in export.example_texts(path)],
            known=export.example_texts(args.data, leaving_out=args.out),
        )
    text = export.to_yaml(result, intents=project.intents, now=utcnow())
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    print(
        f"{result.written} examples written; left out: {result.held_out} in the held-out set, "
        f"{result.already_known} already in the data or repeated",
        file=sys.stderr,
    )
    return 0
