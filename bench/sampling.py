"""Where each process of the stack spends its time under load: py-spy samples and their summary.

``python -m bench.load --sample`` runs py-spy on every process (actions, Rasa, gateway)
during the levels and writes, per process, the raw samples (``profile-<name>.txt``: one line
per distinct stack, "frame;frame;... count") and, in ``profile.md``, the functions found in
most samples. py-spy reads the processes from outside: nothing is added to their code.
"""

from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from bot.settings import PROJECT_ROOT

RATE_PER_SECOND = 50
#: Shares above this are a thread's entry point or idle loop, on (nearly) every sample.
ON_EVERY_STACK = 0.9


class Sampler:
    """py-spy attached to each process of a running stack until :meth:`stop`."""

    def __init__(self, pids: Mapping[str, int], out: Path) -> None:
        exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which(
            "py-spy"
        )
        if exe is None:
            raise FileNotFoundError("py-spy is not installed (it is in the dev extra)")
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.files = {name: out / f"profile-{name}.txt" for name in pids}
        self._spies = [
            subprocess.Popen(
                [
                    exe, "record", "--pid", str(pid), "--rate", str(RATE_PER_SECOND),
                    "--format", "raw", "--output", str(self.files[name]), "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for name, pid in pids.items()
        ]  # fmt: skip

    def stop(self) -> None:
        """Stop sampling (py-spy writes its file when interrupted) and write ``profile.md``."""
        for spy in self._spies:
            if spy.poll() is None:
                spy.send_signal(signal.SIGINT)
        for spy in self._spies:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
        (self.out / "profile.md").write_text(report(self.files))


def frame_name(frame: str) -> str:
    """Return ``function module`` of a py-spy frame ``function (path/to/module.py:line)``."""
    function, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    project = f"{PROJECT_ROOT}/"
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif path.startswith(project):
        path = path[len(project) :]
    elif path.startswith("/"):
        path = path.rsplit("/", 1)[-1]  # the standard library
    return f"{function} {path}".strip()


def busiest(
    lines: Iterable[str], *, top: int = 25, below: float = 1.0
) -> tuple[int, list[tuple[str, float]]]:
    """Return the number of samples and the ``top`` functions by share of samples they are in.

    Functions in more than ``below`` of the samples are left out (with ``below=0.9``: the entry
    point and the idle event loop or thread pool, on every stack of their thread).
    """
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        for name in {frame_name(frame) for frame in stack.split(";")}:
            inclusive[name] += n
    if total == 0:
        return 0, []
    shares = [(name, n / total) for name, n in inclusive.most_common() if n / total <= below]
    return total, shares[:top]


def report(files: Mapping[str, Path], *, top: int = 25) -> str:
    """Return ``profile.md``: per process, the functions found in most samples."""
    parts = [
        "# Where the time goes",
        "",
        f"py-spy samples at {RATE_PER_SECOND}/s of each process while buyers chatted; a "
        "function's share is the share of samples it was on the stack in (callers included). "
        f"Functions on more than {ON_EVERY_STACK:.0%} of the samples (entry points, an idle "
        "event loop or thread pool) are left out.",
    ]
    for name, path in files.items():
        text = path.read_text() if path.exists() else ""
        total, rows = busiest(text.splitlines(), top=top, below=ON_EVERY_STACK)
        parts += ["", f"## {name} ({total} samples)", ""]
        if not rows:
            parts.append("No samples (py-spy could not attach, or the process was idle).")
            continue
        parts += ["| share | function |", "|---|---|"]
        parts += [f"| {share:.1%} | `{function}` |" for function, share in rows]
    return "\n".join(parts) + "\n"
