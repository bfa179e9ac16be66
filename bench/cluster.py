"""``make bench-cluster``: conversations/min at p95 <= 300 ms, one process of each vs the cluster.

Two profiles are measured in one run, one after the other so that neither takes CPU from the
other: ``single``, the stack ``make bench`` measures (one action server, one Rasa, one gateway,
SQLite), and ``cluster``, what ``refundbot cluster start`` runs (two of each behind nginx, on
PostgreSQL and Redis; its own throwaway database on the cluster's PostgreSQL server). At each
load level every conversation goes through the web widget's WebSocket, as in ``make bench``'s
gateway-only pass (:func:`bench.load.run_level`). The figure of each profile is the most
completed conversations a minute at a level whose turn p95 stays within ``--max-p95-ms``;
``results/bench_cluster.json`` and ``.md`` hold every level, and the README's sizing table is
filled from them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy import text as sql
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.load import AccountPool, run_level
from bench.report import machine, machine_load, markdown_table, text_table
from bench.scripted import Script, load_scripts
from bench.stack import Stack, running_stack
from bot.cluster.layout import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL
from bot.refunds.db import dispose
from bot.settings import PROJECT_ROOT, GatewaySettings, Settings

PROFILES = ("single", "cluster")


class ClusterStack(Stack):
    """A running cluster seen as a :class:`Stack`: its entry is the gateway the buyers use."""

    cluster_pids: dict[str, int]

    def pids(self) -> dict[str, int]:
        """Return each process's id (its process group's) by name."""
        return dict(self.cluster_pids)


@contextlib.contextmanager
def running_cluster(model: Path) -> Iterator[ClusterStack]:
    """Start ``refundbot cluster`` on a database of its own; stop it and drop the database."""
    base = os.environ.get("REFUNDBOT_CLUSTER_DATABASE_URL") or DEFAULT_DATABASE_URL
    name = f"refundbot_bench_{uuid.uuid4().hex[:8]}"
    database_url = make_url(base).set(database=name).render_as_string(hide_password=False)
    workdir = Path(tempfile.mkdtemp(prefix="refundbot-cluster-bench-"))
    shop_secret = secrets.token_urlsafe(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFUNDBOT_")}
    env.update(
        {
            "REFUNDBOT_VAR_DIR": str(workdir / "var"),
            "REFUNDBOT_CLUSTER_DATABASE_URL": database_url,
            "REFUNDBOT_CLUSTER_REDIS_URL": os.environ.get("REFUNDBOT_CLUSTER_REDIS_URL")
            or DEFAULT_REDIS_URL,
            "REFUNDBOT_CLUSTER_PORT": "0",
            "REFUNDBOT_CLUSTER_FIRST_PORT": "0",
            "REFUNDBOT_SHOP_SECRET": shop_secret,
            # Every simulated buyer writes from 127.0.0.1, as fast as the bot answers.
            "REFUNDBOT_RATE_LIMIT_MESSAGES": "0",
            "REFUNDBOT_RATE_LIMIT_ADDRESS_MESSAGES": "0",
        }
    )

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "cluster", *args],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip

    try:
        started = command("start", "--model", str(model))
        if started.returncode != 0:
            raise RuntimeError(f"the cluster did not start:\n{started.stdout}{started.stderr}")
        state = json.loads(command("status", "--json").stdout)
        entry_port = int(state["processes"]["nginx"]["address"].rsplit(":", 1)[1])
        settings = Settings(
            var_dir=workdir / "var" / "cluster",
            database_url=database_url,
            gateway=GatewaySettings(port=entry_port, shop_secret=shop_secret),
        )
        stack = ClusterStack(workdir, settings, shop_secret, "", [])
        stack.cluster_pids = {n: p["pid"] for n, p in state["processes"].items()}
        yield stack
    finally:
        command("stop")
        dispose(database_url)
        _drop_database(base, name)


def _drop_database(base: str, name: str) -> None:
    admin = create_engine(
        make_url(base).set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        # A connection of a process that was just stopped may not have been noticed yet.
        conn.execute(
            sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        conn.execute(sql(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


async def measure(
    stack: Stack, scripts: Sequence[Script], *, levels: Sequence[int], seconds: float
) -> list[dict[str, Any]]:
    """Warm ``stack`` up, then run every level with every conversation through the widget."""
    pool = AccountPool(stack)
    await pool.fill(max(levels) * 4)
    await run_level(stack, pool, scripts, buyers=2, seconds=1, think=0, paths=("gateway",))
    results = []
    for buyers in levels:
        print(f"bench: {buyers} buyer(s), {seconds:.0f} s ({machine_load()})…", flush=True)
        results.append(
            await run_level(
                stack, pool, scripts, buyers=buyers, seconds=seconds, think=0,
                paths=("gateway",),
            )
        )  # fmt: skip
    return results


def best(levels: Sequence[dict[str, Any]], max_p95_ms: float) -> dict[str, Any]:
    """Return the most completed conversations/min at a level whose p95 is within the target."""
    fast = [lv for lv in levels if lv["gateway"]["p95_ms"] <= max_p95_ms]
    if not fast:
        return {"conversations_per_min": 0.0, "buyers": None, "p95_ms": math.nan}
    top = max(fast, key=lambda lv: lv["gateway"]["completed_per_min"])
    return {
        "conversations_per_min": top["gateway"]["completed_per_min"],
        "buyers": top["buyers"],
        "p95_ms": top["gateway"]["p95_ms"],
    }


def rows(profiles: dict[str, list[dict[str, Any]]]) -> list[list[str]]:
    """Return one table row per profile and level."""
    table = []
    for profile, levels in profiles.items():
        for level in levels:
            s = level["gateway"]
            table.append(
                [
                    profile, str(level["buyers"]), f"{s['p50_ms']:.0f}", f"{s['p95_ms']:.0f}",
                    f"{s['p99_ms']:.0f}", f"{s['completed_per_min']:.1f}", str(s["errors"]),
                    str(sum(level["peak_rss_mb"].values())),
                    level["load_before"].split(" on ")[0],
                ]
            )  # fmt: skip
    return table


HEADER = [
    "profile", "buyers", "p50 ms", "p95 ms", "p99 ms", "conv/min", "errors", "RSS MB (sum)",
    "load at start",
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run both profiles; return 0 when there were no errors."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.cluster", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "refundbot.tar.gz")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results")
    parser.add_argument("--levels", default="5,10,20,40", help="concurrent buyers, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="time spent at each level")
    parser.add_argument("--max-p95-ms", type=float, default=300.0)
    parser.add_argument("--scripts", type=Path, default=PROJECT_ROOT / "tests" / "scripted")
    parser.add_argument("--profiles", default=",".join(PROFILES), help="single and/or cluster")
    args = parser.parse_args(argv)
    if not args.model.exists():
        print(f"bench: no trained model at {args.model}; run `make train`", file=sys.stderr)
        return 2
    scripts = [
        s for s in load_scripts([args.scripts]) if s.bench and not any(t.silent for t in s.steps)
    ]
    levels = [int(n) for n in args.levels.split(",") if n.strip()]
    chosen = [p.strip() for p in args.profiles.split(",") if p.strip()]
    if not scripts or not levels or not set(chosen) <= set(PROFILES):
        parser.error("needs bench scripts, levels, and profiles among single,cluster")
    started = time.monotonic()
    profiles: dict[str, list[dict[str, Any]]] = {}
    for profile in chosen:
        print(f"bench: profile {profile}", flush=True)
        runner = running_stack(args.model) if profile == "single" else running_cluster(args.model)
        with runner as stack:
            profiles[profile] = asyncio.run(
                measure(stack, scripts, levels=levels, seconds=args.seconds)
            )
    figures = {p: best(levels, args.max_p95_ms) for p, levels in profiles.items()}
    errors = sum(lv["gateway"]["errors"] for levels in profiles.values() for lv in levels)
    report = {
        "machine": machine(),
        "model": str(args.model),
        "scripts": [s.name for s in scripts],
        "seconds_per_level": args.seconds,
        "max_p95_ms": args.max_p95_ms,
        "total_seconds": round(time.monotonic() - started),
        "best": figures,
        "profiles": profiles,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_cluster.json").write_text(json.dumps(report, indent=2))
    summary = [
        [
            profile, f"{f['conversations_per_min']:.1f}", str(f["buyers"] or "-"),
            f"{f['p95_ms']:.0f}",
        ]
        for profile, f in figures.items()
    ]  # fmt: skip
    summary_header = [
        "profile", f"conversations/min (p95 <= {args.max_p95_ms:.0f} ms)", "at buyers", "p95 ms",
    ]  # fmt: skip
    (args.out / "bench_cluster.md").write_text(
        "\n".join(
            [
                "# Bench: one process of each vs the cluster",
                "",
                f"Machine: {report['machine']} · model `{report['model']}` · "
                f"{args.seconds:g} s a level · scripts: " + ", ".join(report["scripts"]),
                "",
                markdown_table(summary_header, summary),
                "",
                markdown_table(HEADER, rows(profiles)),
                "",
            ]
        )
    )
    print()
    print(text_table(HEADER, rows(profiles)))
    print()
    print(text_table(summary_header, summary))
    print(f"\nTotal {report['total_seconds']} s. Reports: {args.out}/bench_cluster.md, .json")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
