"""``make bench``: per-turn latency and throughput at several loads, gateway vs bare Rasa.

At each load level N, N simulated buyers run full refund conversations (the scripts marked
``bench: true`` in ``tests/scripted``), one after another, each conversation as a new buyer
owning fresh copies of the demo orders. Conversations alternate between two paths, buyer by
buyer and conversation by conversation: through the gateway (the web widget's WebSocket, as a
shop's page speaks it) and straight to Rasa's REST channel (the baseline). Both paths are
therefore measured side by side, at the same moments, under the same machine load; their
ratio is the gateway's overhead.

A second pass repeats the levels with every conversation through the gateway: that is the
throughput a shop gets, and what the conversations-per-minute target is judged on.

Buyers answer as soon as the bot has answered (no think time unless ``--think``), so each level
is a closed-loop load of N conversations in flight. Reported per level and path: per-turn
latency p50/p95/p99, turns/s, completed conversations/min, errors, and the peak RSS of each
process; a table on stdout, ``results/bench.json``, ``results/bench.md``, ``results/bench.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import itertools
import json
import math
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bench.accounts import Account, create_accounts
from bench.client import Buyer, NoSuchButton, RestBuyer, WidgetBuyer
from bench.load_results import (
    BREAKDOWN_HEADER,
    CPU_HEADER,
    HEADER,
    PATHS,
    THROUGHPUT_HEADER,
    Targets,
    bench_markdown,
    breakdown_rows,
    cpu_rows,
    judge,
    level_rows,
    plot,
    throughput_rows,
)
from bench.report import machine, machine_load, text_table
from bench.sampling import Sampler
from bench.scripted import Script, check_turn, fill, load_scripts
from bench.stack import Stack, group_rss_bytes, running_stack
from bot.clock import utcnow
from bot.gateway.identity import make_token
from bot.refunds.db import get_sessionmaker
from bot.settings import PROJECT_ROOT

#: More conversations a second than the whole stack completes (about 5 on 2 CPUs).
MAX_CONVERSATIONS_PER_SECOND = 12


@dataclasses.dataclass
class PathStats:
    """What one path did at one level."""

    latencies: list[float] = dataclasses.field(default_factory=list)
    turns: int = 0
    errors: int = 0
    error_samples: list[str] = dataclasses.field(default_factory=list)
    conversations: int = 0
    completed: int = 0
    diverged: int = 0
    divergence_samples: list[str] = dataclasses.field(default_factory=list)
    marks: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def summary(self, seconds: float) -> dict[str, Any]:
        """Return the figures of this path over ``seconds`` of wall time."""
        ordered = sorted(self.latencies)
        return {
            "turns": self.turns,
            "p50_ms": _ms(percentile(ordered, 50)),
            "p95_ms": _ms(percentile(ordered, 95)),
            "p99_ms": _ms(percentile(ordered, 99)),
            "max_ms": _ms(ordered[-1] if ordered else math.nan),
            "turns_per_s": round(self.turns / seconds, 2) if seconds else 0.0,
            "conversations": self.conversations,
            "completed": self.completed,
            "completed_per_min": round(self.completed * 60 / seconds, 1) if seconds else 0.0,
            "diverged": self.diverged,
            "errors": self.errors,
            "error_samples": self.error_samples[:5],
            "divergence_samples": self.divergence_samples[:5],
            # Where a widget turn's time goes, medians in ms from sending (see client.Turn).
            "median_marks_ms": {
                name: _ms(percentile(sorted(values), 50)) for name, values in self.marks.items()
            },
        }


def percentile(ordered: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile of sorted values (nearest rank); NaN when empty."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1) if not math.isnan(seconds) else math.nan


class AccountPool:
    """Hands out fresh buyers, creating more in the stack's database when it runs low."""

    def __init__(self, stack: Stack, *, batch: int = 200) -> None:
        self._sessions = get_sessionmaker(stack.database_url)
        self._batch = batch
        self._next = 1
        self._ready: list[Account] = []
        self._lock = asyncio.Lock()

    async def fill(self, count: int) -> None:
        """Make sure ``count`` buyers are ready."""
        async with self._lock:
            while len(self._ready) < count:
                await asyncio.to_thread(self._create, max(self._batch, count - len(self._ready)))

    async def take(self) -> Account:
        """Return a buyer nobody has used."""
        async with self._lock:
            if not self._ready:
                await asyncio.to_thread(self._create, self._batch)
            return self._ready.pop()

    def _create(self, count: int) -> None:
        with self._sessions.begin() as session:
            accounts = create_accounts(
                session, first=self._next, count=count, now=utcnow(), prefix="load"
            )
        self._next += count
        self._ready.extend(reversed(accounts))


async def converse(buyer: Buyer, script: Script, account: Account, stats: PathStats) -> None:
    """Play ``script``; record every turn's latency; stop at an error or a divergence."""
    stats.conversations += 1
    variables = account.variables()
    for step in script.steps:
        try:
            if step.say is not None:
                turn = await buyer.say(fill(step.say, variables))
            else:
                assert step.press is not None
                turn = await buyer.press(fill(step.press, variables))
        except NoSuchButton as e:
            _diverged(stats, script, str(e))
            return
        stats.turns += 1
        if turn.error:
            stats.errors += 1
            stats.error_samples.append(f"{script.name}: {turn.error}")
            return
        stats.latencies.append(turn.latency)
        for name, value in turn.marks.items():
            stats.marks.setdefault(name, []).append(value)
        problem = check_turn(step, turn, variables)
        if problem:
            _diverged(stats, script, problem)
            return
    stats.completed += 1


def _diverged(stats: PathStats, script: Script, problem: str) -> None:
    stats.diverged += 1
    stats.divergence_samples.append(f"{script.name}: {problem}")


async def open_buyer(
    path: str, http: aiohttp.ClientSession, stack: Stack, account: Account
) -> Buyer:
    """Return a buyer signed in as ``account`` on ``path`` (gateway or rasa)."""
    if path == "gateway":
        token = make_token(stack.shop_secret, account.customer_id, 3600)
        return await WidgetBuyer.connect(http, stack.widget_ws_url, token=token, quiet_seconds=0.05)
    return RestBuyer(http, stack.rasa_url, customer_id=account.customer_id)


async def run_level(
    stack: Stack,
    pool: AccountPool,
    scripts: Sequence[Script],
    *,
    buyers: int,
    seconds: float,
    think: float,
    paths: Sequence[str] = PATHS,
) -> dict[str, Any]:
    """Run ``buyers`` concurrent buyers for ``seconds``; return the level's figures.

    With both paths, conversations alternate between them (the side-by-side comparison);
    with ``paths=("gateway",)`` every conversation goes through the gateway (its throughput).
    """
    stats = {path: PathStats() for path in PATHS}
    # Every conversation takes a fresh buyer; make them all before the clock starts, since
    # writing a batch mid-level holds the store's write lock and stalls the gateway's turns.
    await pool.fill(buyers * 4 + int(seconds * MAX_CONVERSATIONS_PER_SECOND))
    peak_rss: dict[str, int] = {name: 0 for name in stack.pids()}
    load_before = machine_load()
    stop_sampling = asyncio.Event()

    async def sample_rss() -> None:
        while not stop_sampling.is_set():
            for name, pid in stack.pids().items():
                peak_rss[name] = max(peak_rss[name], group_rss_bytes(pid))
            try:
                await asyncio.wait_for(stop_sampling.wait(), 0.5)
            except asyncio.TimeoutError:
                pass

    cpu_before = stack.cpu_seconds()
    start = time.perf_counter()
    deadline = start + seconds

    async def buyer_loop(index: int, http: aiohttp.ClientSession) -> None:
        for number in itertools.count():
            if time.perf_counter() >= deadline:
                return
            # Each script is played twice in a row, once per path, so that both paths see the
            # same mix of conversations whatever the number of buyers.
            path = paths[(index + number) % len(paths)]
            script = scripts[(index + number // len(paths)) % len(scripts)]
            account = await pool.take()
            try:
                buyer = await open_buyer(path, http, stack, account)
            except (ConnectionError, aiohttp.ClientError) as e:
                stats[path].errors += 1
                stats[path].error_samples.append(f"connect: {e}")
                continue
            try:
                await converse(buyer, script, account, stats[path])
            finally:
                await buyer.close()
            if think:
                await asyncio.sleep(think)

    sampler = asyncio.create_task(sample_rss())
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(buyer_loop(i, http) for i in range(buyers)))
    elapsed = time.perf_counter() - start
    cpu = stack.cpu_used_since(cpu_before)
    stop_sampling.set()
    await sampler
    result: dict[str, Any] = {
        "mode": "side by side" if len(paths) > 1 else "gateway only",
        "buyers": buyers,
        "seconds": round(elapsed, 1),
        "load_before": load_before,
        "load_after": machine_load(),
        "peak_rss_mb": {name: round(rss / 2**20) for name, rss in peak_rss.items()},
    }
    for path in PATHS:
        result[path] = stats[path].summary(elapsed)
    result["cpu"] = cpu_per_process(cpu, elapsed, result)
    gateway_p95, rasa_p95 = result["gateway"]["p95_ms"], result["rasa"]["p95_ms"]
    result["p95_ratio"] = (
        round(gateway_p95 / rasa_p95, 3)
        if len(paths) > 1 and rasa_p95 and not math.isnan(rasa_p95)
        else math.nan
    )
    return result


def cpu_per_process(
    cpu_seconds: dict[str, float], elapsed: float, level: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """Return each process's share of a core and its CPU milliseconds per turn.

    Per turn of the gateway path for a gateway, of both paths for the others: several Rasa
    servers share the turns, so their figures add up to what a turn costs Rasa.
    """
    turns = {path: level[path]["turns"] for path in PATHS}
    shares = {}
    for name, seconds in cpu_seconds.items():
        served = turns["gateway"] if name.startswith("gateway") else sum(turns.values())
        shares[name] = {
            "cores": round(seconds / elapsed, 2),
            "ms_per_turn": round(1000 * seconds / served, 1) if served else math.nan,
        }
    return shares


async def bench(
    model: Path,
    scripts: Sequence[Script],
    *,
    levels: Sequence[int],
    seconds: float,
    think: float,
    profile: Path | None = None,
    service_env: dict[str, dict[str, str]] | None = None,
    side_by_side: bool = True,
    gateway_only: bool = True,
    sample: Path | None = None,
    rasa_workers: int = 1,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Start a stack, warm it up, run every level; return the levels and the run's context.

    Each level is marked with ``rasa_workers``. With ``sample`` (a folder), py-spy samples
    every process during the levels (:mod:`bench.sampling`) and ``profile.md`` there says where
    the time went.
    """
    with running_stack(
        model, profile_gateway=profile, service_env=service_env, rasa_workers=rasa_workers
    ) as stack:
        pool = AccountPool(stack)
        await pool.fill(max(levels) * 4)
        # A few conversations per path first: Rasa and TensorFlow build their graphs lazily, in
        # every Rasa server.
        await run_level(stack, pool, scripts, buyers=2 * rasa_workers, seconds=1, think=0)
        sampler = Sampler(stack.pids(), sample) if sample is not None else None
        try:
            results = await run_levels(
                stack, pool, scripts, levels=levels, seconds=seconds, think=think,
                side_by_side=side_by_side, gateway_only=gateway_only,
            )  # fmt: skip
        finally:
            if sampler is not None:
                sampler.stop()
        for level in results:
            level["rasa_workers"] = rasa_workers
        context = {
            "model": str(model),
            "machine": machine(),
            "pids": stack.pids(),
            "service_env": service_env or {},
            "rasa_workers": rasa_workers,
        }
    return results, context


async def run_levels(
    stack: Stack,
    pool: AccountPool,
    scripts: Sequence[Script],
    *,
    levels: Sequence[int],
    seconds: float,
    think: float,
    side_by_side: bool = True,
    gateway_only: bool,
) -> list[dict[str, Any]]:
    """Run every level side by side, then (``gateway_only``) every level through the gateway."""
    results = []
    phases: list[tuple[str, ...]] = ([PATHS] if side_by_side else []) + (
        [("gateway",)] if gateway_only else []
    )
    for paths in phases:
        for buyers in levels:
            print(
                f"bench: {buyers} buyer(s), {' + '.join(paths)}, {seconds:.0f} s "
                f"({machine_load()})…",
                flush=True,
            )
            results.append(
                await run_level(
                    stack, pool, scripts, buyers=buyers, seconds=seconds, think=think,
                    paths=paths,
                )
            )  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the bench; return 0 when every target is met, 1 when one is missed."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "refundbot.tar.gz")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results")
    parser.add_argument(
        "--levels", default="1,3,5,10,20,40", help="concurrent buyers, comma-separated"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="time spent at each level")
    parser.add_argument(
        "--no-gateway-only",
        action="store_true",
        help="skip the second pass where every conversation goes through the gateway",
    )
    parser.add_argument("--think", type=float, default=0.0, help="pause between conversations")
    parser.add_argument("--scripts", type=Path, default=PROJECT_ROOT / "tests" / "scripted")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the gateway under cProfile: results/gateway.prof and gateway-profile.txt",
    )
    parser.add_argument(
        "--sample",
        action="store_true",
        help="sample every process with py-spy: results/profile.md and profile-<name>.txt",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="SERVICE:NAME=VALUE",
        help="extra environment for a service (actions, rasa, gateway); repeatable",
    )
    parser.add_argument(
        "--rasa-workers",
        default="1",
        help="Rasa servers behind the gateway; several counts (1,2) are run one after the other "
        "in one run: the first side by side and through the gateway, the others through the "
        "gateway only, and their throughputs compared",
    )
    parser.add_argument("--max-p95-ratio", type=float, default=Targets.max_p95_ratio)
    parser.add_argument("--min-conversations-per-minute", type=float,
                        default=Targets.min_conversations_per_minute)  # fmt: skip
    parser.add_argument("--max-p95-ms", type=float, default=Targets.max_p95_ms)
    args = parser.parse_args(argv)
    workers = _counts(args.rasa_workers)
    if not workers:
        parser.error(
            f"--rasa-workers: give counts of at least 1, like 1,2; got {args.rasa_workers!r}"
        )
    if len(workers) > 1 and (args.sample or args.profile):
        parser.error("--sample and --profile measure one stack: give one --rasa-workers count")
    if len(workers) > 1 and args.no_gateway_only:
        parser.error("several --rasa-workers counts are compared through the gateway only")
    if not args.model.exists():
        print(f"bench: no trained model at {args.model}; run `make train`", file=sys.stderr)
        return 2
    # A silent step waits for nothing on purpose; it has no place in a latency measurement.
    scripts = [
        s for s in load_scripts([args.scripts]) if s.bench and not any(t.silent for t in s.steps)
    ]
    if not scripts:
        print(f"bench: no script in {args.scripts} is marked bench: true", file=sys.stderr)
        return 2
    levels = [int(n) for n in args.levels.split(",") if n.strip()]
    targets = Targets(args.max_p95_ratio, args.min_conversations_per_minute, args.max_p95_ms)
    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    profile = args.out / "gateway.prof" if args.profile else None
    service_env: dict[str, dict[str, str]] = {}
    for item in args.env:
        service, _, assignment = item.partition(":")
        name, _, value = assignment.partition("=")
        if not name:
            parser.error(f"--env needs SERVICE:NAME=VALUE, got {item!r}")
        service_env.setdefault(service, {})[name] = value
    results: list[dict[str, Any]] = []
    pids: dict[str, dict[str, int]] = {}
    for index, count in enumerate(workers):
        levels_run, context = asyncio.run(
            bench(
                args.model, scripts, levels=levels, seconds=args.seconds, think=args.think,
                profile=profile, service_env=service_env, side_by_side=index == 0,
                gateway_only=not args.no_gateway_only, sample=args.out if args.sample else None,
                rasa_workers=count,
            )
        )  # fmt: skip
        results.extend(levels_run)
        pids[str(count)] = context["pids"]
    context.update(pids=pids, rasa_workers=workers)
    if profile is not None and profile.exists():
        text = io.StringIO()
        pstats.Stats(str(profile), stream=text).sort_stats("tottime").print_stats(40)
        (args.out / "gateway-profile.txt").write_text(text.getvalue())
    verdicts = judge(results, targets)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        **context,
        "scripts": [s.name for s in scripts],
        "seconds_per_level": args.seconds,
        "think_seconds": args.think,
        "total_seconds": round(time.monotonic() - started),
        "levels": results,
        "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in verdicts],
    }
    (args.out / "bench.json").write_text(json.dumps(report, indent=2))
    plot(results, args.out / "bench.png")
    rows = level_rows(results)
    target_rows = [[t, m, "PASS" if ok else "FAIL"] for t, m, ok in verdicts]
    throughput = throughput_rows(results, targets.max_p95_ms)
    (args.out / "bench.md").write_text(bench_markdown(report, rows, target_rows, throughput))
    print()
    print(text_table(HEADER, rows))
    print()
    print(text_table(["target", "measured", "status"], target_rows))
    print()
    print(text_table(THROUGHPUT_HEADER, throughput))
    print()
    print(text_table(BREAKDOWN_HEADER, breakdown_rows(results)))
    print()
    print(text_table(CPU_HEADER, cpu_rows(results)))
    print(
        f"\nTotal {report['total_seconds']} s. Reports: {args.out}/bench.md, bench.json, bench.png"
    )
    return 0 if all(ok for _, _, ok in verdicts) else 1


def _counts(raw: str) -> list[int]:
    """Return the Rasa server counts ``raw`` lists (``"1,2"``), or ``[]`` when one is not >= 1."""
    try:
        counts = [int(n) for n in raw.split(",") if n.strip()]
    except ValueError:
        return []
    return counts if counts and all(n >= 1 for n in counts) else []


if __name__ == "__main__":
    sys.exit(main())
