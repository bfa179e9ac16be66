"""The refundbot command as an operator runs it: a real process on a real database."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.settings import PROJECT_ROOT


def refundbot(
    db_url: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``refundbot *args`` on ``db_url``; return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "REFUNDBOT_DATABASE_URL": db_url, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
