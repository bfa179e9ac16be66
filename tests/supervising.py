"""``supervise`` in a process of its own, over small fake services (tests/fake_service.py).

The harness of tests/test_supervisor.py; ``wait_until`` serves tests/test_run.py too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.processes import read_status
from bot.settings import PROJECT_ROOT

FAKE_SERVICE = Path(__file__).with_name("fake_service.py")
SUPERVISE = """
import json, sys
from pathlib import Path
from bot.supervisor import Backoff, Service, supervise

spec = json.loads(sys.argv[1])
services = [Service(name=n, argv=argv, health_url=url) for n, argv, url in spec["services"]]
sys.exit(
    supervise(
        services,
        var_dir=Path(spec["var_dir"]),
        env={},
        backoff=Backoff(*spec["backoff"]),
        startup_timeout=spec["startup_timeout"],
        on_ready=lambda started: print("all ready:", [s.name for s in started], flush=True),
    )
)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child of the supervisor that has exited but is not reaped yet is no longer running.
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split(") ")[-1][0] != "Z"


class Supervisor:
    """``supervise`` in a process of its own, over fake services named ``names``."""

    def __init__(
        self,
        tmp_path: Path,
        names: list[str],
        *,
        backoff: tuple[float, float, float] = (0.25, 1.0, 60.0),
        startup_timeout: float = 20.0,
        prepare: Callable[[Supervisor], None] | None = None,
    ) -> None:
        self.var_dir = tmp_path / "var"
        self.control = {name: tmp_path / name for name in names}
        specs = []
        for name, control in self.control.items():
            control.mkdir()
            port = free_port()
            argv = [sys.executable, str(FAKE_SERVICE), str(port), str(control)]
            specs.append((name, argv, f"http://127.0.0.1:{port}/health"))
        spec = {
            "services": specs,
            "var_dir": str(self.var_dir),
            "backoff": backoff,
            "startup_timeout": startup_timeout,
        }
        if prepare is not None:
            prepare(self)
        self.stdout = tmp_path / "supervisor.out"
        self.stderr = tmp_path / "supervisor.err"
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SUPERVISE, json.dumps(spec)],
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=err,
            )

    def status(self) -> dict[str, Any]:
        status = read_status(self.var_dir)
        return status["children"] if status else {}

    def state(self, name: str) -> str | None:
        return self.status().get(name, {}).get("state")

    def pids(self, name: str) -> list[int]:
        path = self.control[name] / "pids"
        return [int(line) for line in path.read_text().split()] if path.exists() else []

    def err(self) -> str:
        return self.stderr.read_text()

    def wait_ready(self) -> None:
        wait_until(lambda: "all ready" in self.stdout.read_text())

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)
