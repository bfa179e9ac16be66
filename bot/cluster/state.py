"""The cluster's state file: what its supervisor started, so that exactly that can be stopped.

The supervisor of ``refundbot cluster`` rewrites ``var/cluster/cluster.json`` whenever one of its
processes changes state: the entry URL, every process's role, address, state and pid, and every
process group it started that may still be running. A pid is recorded with the moment its
process started (from ``/proc``), so a pid the system has since given to another process is never
taken for one of the cluster's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from bot.processes import write_status

STATE_FILE = "cluster.json"


def state_path(var_dir: Path) -> Path:
    """Return the state file of the cluster whose folder is ``var_dir``."""
    return var_dir / STATE_FILE


def read_state(var_dir: Path) -> dict[str, Any] | None:
    """Return the cluster's state, or ``None`` when no cluster has written one."""
    try:
        state = json.loads(state_path(var_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("supervisor"), dict):
        return None
    return state


def write_state(var_dir: Path, state: dict[str, Any]) -> None:
    """Replace the state file in one step."""
    write_status(state_path(var_dir), state)


def remove_state(var_dir: Path) -> None:
    """Remove the state file (the cluster is stopped)."""
    with contextlib.suppress(FileNotFoundError):
        state_path(var_dir).unlink()


def started_at(pid: int) -> int | None:
    """Return when process ``pid`` started (clock ticks since boot), or ``None`` if it is gone.

    A process that has exited but is not reaped yet counts as gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces) start after the last ")".
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def running(entry: dict[str, Any] | None) -> bool:
    """Return whether the process recorded as ``{"pid": …, "started": …}`` still runs."""
    if not entry or not isinstance(entry.get("pid"), int):
        return False
    return entry.get("started") is not None and started_at(entry["pid"]) == entry["started"]


def record(pid: int) -> dict[str, Any]:
    """Return ``pid`` as the state file records it."""
    return {"pid": pid, "started": started_at(pid)}


def group_members(pgid: int) -> list[int]:
    """Return the processes of process group ``pgid`` that still run."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def survivors(group: dict[str, Any]) -> list[int]:
    """Return the processes still running in a group the cluster started.

    ``group`` is its leader as :func:`record` had it. A group id is not given to a new process
    while the group has members, so the members of a group whose leader is gone are still the
    cluster's; those that started before the leader are not (the id was free and reused).
    """
    pgid, started = group.get("pid"), group.get("started")
    if not isinstance(pgid, int) or not isinstance(started, int):
        return []
    leader = started_at(pgid)
    if leader is not None and leader != started:
        return []
    return [pid for pid in group_members(pgid) if (started_at(pid) or -1) >= started]


def kill_groups(groups: list[dict[str, Any]], *, timeout: float = 10.0) -> list[int]:
    """SIGKILL what still runs of the recorded groups (:func:`survivors`); wait for it to end.

    Returns:
        The processes that were killed.
    """
    killed = [pid for group in groups for pid in survivors(group)]
    for pid in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(started_at(pid) is not None for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.1)
    return killed
