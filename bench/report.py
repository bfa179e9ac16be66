"""Small helpers shared by the eval and bench reports: machine load, tables, timing."""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from collections.abc import Sequence


def machine_load() -> str:
    """Return the 1/5/15-minute load averages and the CPU count, as ``uptime`` shows them."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def machine() -> str:
    """Return a one-line description of this machine."""
    return f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python " + (
        platform.python_version()
    )


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return a GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return a plain-text table with aligned columns, for the terminal."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


@dataclasses.dataclass
class Stopwatch:
    """Measures one stage and remembers the machine load when it started and ended."""

    name: str
    started: float = dataclasses.field(default_factory=time.monotonic)
    load_before: str = dataclasses.field(default_factory=machine_load)
    seconds: float = 0.0
    load_after: str = ""

    def stop(self) -> Stopwatch:
        """Stop the watch; return it."""
        self.seconds = time.monotonic() - self.started
        self.load_after = machine_load()
        return self
