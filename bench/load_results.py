"""What a ``make bench`` run's figures say: the targets judged, the tables, bench.md, the figure.

:mod:`bench.load` measures; this module only reads the levels it returns.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.report import markdown_table

#: The two ways a turn is measured: the widget's WebSocket on the gateway, Rasa's REST channel.
PATHS = ("gateway", "rasa")


@dataclasses.dataclass
class Targets:
    """The issue's targets, overridable from the Makefile."""

    max_p95_ratio: float = 1.15
    min_conversations_per_minute: float = 60.0
    max_p95_ms: float = 300.0


def judge(levels: list[dict[str, Any]], targets: Targets) -> list[tuple[str, str, bool]]:
    """Return each target with what was measured and whether it was met."""
    ratios = [level["p95_ratio"] for level in levels if level["mode"] == "side by side"]
    worst = max(ratios) if ratios else math.nan
    errors = sum(level[path]["errors"] for level in levels for path in PATHS)
    # Throughput is judged where every conversation went through the gateway, when measured.
    only = [level for level in levels if level["mode"] == "gateway only"] or levels
    fastest = best_within(only, targets.max_p95_ms)
    best = 0.0 if fastest is None else float(fastest["gateway"]["completed_per_min"])
    return [
        (
            f"gateway p95 / bare-Rasa p95 <= {targets.max_p95_ratio} at every level",
            f"worst {worst:.2f}",
            not math.isnan(worst) and worst <= targets.max_p95_ratio,
        ),
        (
            f">= {targets.min_conversations_per_minute:.0f} completed conversations/min through "
            f"the gateway with its p95 <= {targets.max_p95_ms:.0f} ms",
            f"best {best:.1f}/min",
            best >= targets.min_conversations_per_minute,
        ),
        ("no errors", f"{errors} errors", errors == 0),
    ]


def level_rows(levels: list[dict[str, Any]]) -> list[list[str]]:
    """Return the per-level, per-path table rows."""
    rows: list[list[str]] = []
    for level in levels:
        for path in PATHS:
            s = level[path]
            if not s["turns"] and level["mode"] == "gateway only":
                continue
            rss = level["peak_rss_mb"]
            rows.append(
                [
                    level["mode"],
                    str(_workers(level)),
                    str(level["buyers"]),
                    path,
                    f"{s['p50_ms']:.0f}",
                    f"{s['p95_ms']:.0f}",
                    f"{s['p99_ms']:.0f}",
                    f"{s['turns_per_s']:.1f}",
                    f"{s['completed_per_min']:.1f}",
                    f"{s['diverged']}",
                    f"{s['errors']}",
                    f"{level['p95_ratio']:.2f}"
                    if path == "gateway" and not math.isnan(level["p95_ratio"])
                    else "",
                    " ".join(f"{k}={v}" for k, v in rss.items()) if path == "gateway" else "",
                    level["load_before"].split(" on ")[0] if path == "gateway" else "",
                ]
            )
    return rows


def breakdown_rows(levels: list[dict[str, Any]]) -> list[list[str]]:
    """Return, per level, the median milestones of a gateway turn beside bare Rasa's p50."""
    rows = []
    for level in (lv for lv in levels if lv["mode"] == "side by side"):
        marks = level["gateway"]["median_marks_ms"]
        rows.append(
            [str(level["buyers"])]
            + [f"{marks.get(name, math.nan):.0f}" for name in ("echo", "typing_on", "typing_off")]
            + [f"{level['gateway']['p50_ms']:.0f}", f"{level['rasa']['p50_ms']:.0f}"]
        )
    return rows


def cpu_rows(levels: list[dict[str, Any]]) -> list[list[str]]:
    """Return, per level and process, its share of a core and its CPU ms per turn."""
    rows = []
    for level in levels:
        for name, share in sorted(level.get("cpu", {}).items()):
            rows.append(
                [
                    level["mode"],
                    str(_workers(level)),
                    str(level["buyers"]),
                    name,
                    f"{share['cores']:.2f}",
                    f"{share['ms_per_turn']:.1f}",
                ]
            )
    return rows


def throughput_rows(levels: list[dict[str, Any]], max_p95_ms: float) -> list[list[str]]:
    """Return, per count of Rasa servers, its best gateway-only level with p95 <= ``max_p95_ms``.

    The level that completed the most conversations a minute, with the CPU a turn cost in all
    (every process's milliseconds per turn added up).
    """
    rows = []
    for workers in sorted({_workers(level) for level in levels}):
        only = [
            level
            for level in levels
            if level["mode"] == "gateway only" and _workers(level) == workers
        ]
        best = best_within(only, max_p95_ms)
        if best is None:
            rows.append([str(workers), "0", "", "", "", ""])
            continue
        cpu = sum(share["ms_per_turn"] for share in best.get("cpu", {}).values())
        rows.append(
            [
                str(workers),
                f"{best['gateway']['completed_per_min']:.1f}",
                str(best["buyers"]),
                f"{best['gateway']['p95_ms']:.0f}",
                f"{best['gateway']['turns_per_s']:.1f}",
                f"{cpu:.1f}" if cpu else "",
            ]
        )
    return rows


def best_within(levels: list[dict[str, Any]], max_p95_ms: float) -> dict[str, Any] | None:
    """Return the level with the most conversations a minute within ``max_p95_ms``, or ``None``.

    Both are the gateway's: conversations completed through it, and its p95.
    """
    fast = [level for level in levels if level["gateway"]["p95_ms"] <= max_p95_ms]
    return max(fast, key=lambda level: level["gateway"]["completed_per_min"], default=None)


def _workers(level: dict[str, Any]) -> int:
    return int(level.get("rasa_workers", 1))


THROUGHPUT_HEADER = [
    "Rasa servers", "conv/min at p95 within target", "at buyers", "p95 ms", "turns/s",
    "CPU ms per turn (all processes)",
]  # fmt: skip

CPU_HEADER = ["mode", "Rasa servers", "buyers", "process", "cores used", "CPU ms per turn"]

BREAKDOWN_HEADER = [
    "buyers", "echo ms", "typing on ms", "typing off ms", "last reply ms (p50)", "bare Rasa p50 ms",
]  # fmt: skip

HEADER = [
    "mode", "Rasa servers", "buyers", "path", "p50 ms", "p95 ms", "p99 ms", "turns/s", "conv/min",
    "diverged", "errors", "p95 ratio", "peak RSS MB", "load at start",
]  # fmt: skip


def plot(levels: list[dict[str, Any]], out: Path) -> None:
    """Draw latency (p50, p95) against load for both paths, and the p95 ratio."""
    import matplotlib  # type: ignore[import-untyped]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-untyped]

    only = [level for level in levels if level["mode"] == "gateway only"]
    levels = [level for level in levels if level["mode"] == "side by side"]
    buyers = [level["buyers"] for level in levels]
    figure, (latency, ratio) = plt.subplots(
        2, 1, figsize=(7, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    for path, colour in zip(PATHS, ("tab:blue", "tab:orange"), strict=True):
        label = "gateway (widget WebSocket)" if path == "gateway" else "bare Rasa (REST)"
        latency.plot(buyers, [lv[path]["p95_ms"] for lv in levels], "o-", color=colour,
                     label=f"{label} p95")  # fmt: skip
        latency.plot(buyers, [lv[path]["p50_ms"] for lv in levels], "o--", color=colour,
                     alpha=0.6, label=f"{label} p50")  # fmt: skip
    styles = list(zip("s^vD<", ("tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"),
                      strict=True))  # fmt: skip
    for workers, (marker, colour) in zip(
        sorted({_workers(lv) for lv in only}), styles, strict=False
    ):
        run = [lv for lv in only if _workers(lv) == workers]
        label = f"gateway only, {workers} Rasa server{'s' if workers > 1 else ''}, p95"
        latency.plot([lv["buyers"] for lv in run], [lv["gateway"]["p95_ms"] for lv in run],
                     f"{marker}:", color=colour, label=label)  # fmt: skip
    latency.set_ylabel("turn latency (ms)")
    latency.set_title("Refund assistant: turn latency against concurrent buyers")
    latency.grid(True, alpha=0.3)
    latency.legend()
    ratio.plot(buyers, [lv["p95_ratio"] for lv in levels], "o-", color="tab:green")
    ratio.axhline(1.15, color="tab:red", linestyle=":", label="target 1.15")
    ratio.set_ylabel("p95 gateway / Rasa")
    ratio.set_xlabel("concurrent buyers")
    ratio.set_xscale("log")
    ratio.set_xticks(buyers)
    ratio.set_xticklabels([str(b) for b in buyers])
    ratio.grid(True, alpha=0.3)
    ratio.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def bench_markdown(
    report: dict[str, Any],
    rows: Sequence[Sequence[str]],
    target_rows: Sequence[Sequence[str]],
    throughput: Sequence[Sequence[str]] = (),
) -> str:
    """Return bench.md: levels, targets, throughput per Rasa server count, turn milestones."""
    results = report["levels"]
    return "\n".join(
        [
            "# Bench",
            "",
            f"Machine: {report['machine']} · model `{report['model']}` · scripts: "
            + ", ".join(report["scripts"]),
            "",
            markdown_table(HEADER, rows),
            "",
            markdown_table(["target", "measured", "status"], target_rows),
            "",
            "The most conversations a minute through the gateway at a level whose p95 is"
            " within the target, per count of Rasa servers (each count on a stack of its own,"
            " one after the other in this run):",
            "",
            markdown_table(THROUGHPUT_HEADER, throughput),
            "",
            "Where a gateway turn's time goes (medians, ms after the buyer sent it): the echo"
            " of the buyer's message (recorded in the transcript), typing on (the worker"
            " took it to Rasa), typing off (Rasa answered, replies saved), the last reply.",
            "",
            markdown_table(BREAKDOWN_HEADER, breakdown_rows(results)),
            "",
            "CPU time of each process over each level (user and system, read from `/proc`),"
            " as a share of one core and per turn: a gateway's per turn of the gateway path,"
            " the others' per turn of both paths (several Rasa servers share the turns, so"
            " theirs add up to Rasa's cost of a turn). The bench's buyers are not counted.",
            "",
            markdown_table(CPU_HEADER, cpu_rows(results)),
            "",
            "![latency against load](bench.png)",
            "",
        ]
    )
