"""The supervisor's status file: what ``refundbot run`` keeps running, as operators see it.

``refundbot run`` rewrites ``var/processes.json`` whenever one of its children changes state and
removes it when it stops; the gateway's ``GET /health`` shows it as ``processes``. Both import
this module, which depends on nothing else of the project, so neither imports the other.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

STATUS_FILE = "processes.json"


def status_path(var_dir: Path) -> Path:
    """Return where the supervisor of ``var_dir`` keeps its status."""
    return var_dir / STATUS_FILE


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace the status file in one step, so a reader never sees half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(status, f, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_status(var_dir: Path) -> dict[str, Any] | None:
    """Return the supervisor's status, or ``None`` when no supervisor has written one.

    ``supervisor.running`` is false when the process that wrote the file is gone: its children
    may still be running, but nothing restarts them any more.
    """
    try:
        status = json.loads(status_path(var_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(status, dict) or not isinstance(status.get("supervisor"), dict):
        return None
    supervisor = status["supervisor"]
    supervisor["running"] = _alive(supervisor.get("pid"))
    return status


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
