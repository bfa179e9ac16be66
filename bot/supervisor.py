"""Keep a set of processes running: start them in order, restart the ones that die, stop them all.

Each process runs in its own process group with its output in ``<var>/log/<name>.log``. They start
one after the other, each once the previous one answers its health URL (a service marked
``together`` starts with the one before it instead); one that never does ends the run with the
end of its log. Once a process has been ready, its death is not the end: it is restarted after a
back-off (1 s, doubling up to a minute, from 1 s again once it has stayed up a minute) while the
others keep running. What runs is written to ``<var>/processes.json`` (:mod:`bot.processes`),
which the gateway's ``GET /health`` shows. SIGINT or SIGTERM stops every process that was started.

``refundbot run`` (:mod:`bot.run`) supervises one process of each kind, ``refundbot cluster``
(:mod:`bot.cluster`) several of each behind nginx.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from bot.processes import status_path, write_status
from bot.settings import PROJECT_ROOT

STARTUP_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.25


@dataclass
class Service:
    """One process to supervise and the URL that says it is ready."""

    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)
    together: bool = False
    """Start along with the service before it instead of once that one is ready."""
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None


@dataclass(frozen=True)
class Backoff:
    """How long a dead process waits before it is started again."""

    first_seconds: float = 1.0
    max_seconds: float = 60.0
    reset_after_seconds: float = 60.0
    """A process that stayed up this long before dying waits ``first_seconds`` again."""

    def delay(self, attempt: int) -> float:
        """Return the wait before restart ``attempt`` (1, 2, …) of a run of failures."""
        return float(min(self.max_seconds, self.first_seconds * 2 ** (attempt - 1)))


class State(str, Enum):
    """Where a supervised process is in its life, as the status file names it."""

    PENDING = "pending"
    STARTING = "starting"
    UP = "up"
    RESTARTING = "restarting"


@dataclass
class _Child:
    service: Service
    state: State = State.PENDING
    ready_once: bool = False
    started_at: float = 0.0
    up_since: float | None = None
    attempt: int = 0
    """Failures in a row; 0 again after a long enough run (see :class:`Backoff`)."""
    restarts: int = 0
    next_start: float = 0.0
    next_start_at: str | None = None
    last_exit: dict[str, Any] | None = None
    since: str = ""


def supervise(
    services: list[Service],
    *,
    var_dir: Path,
    env: Mapping[str, str],
    backoff: Backoff | None = None,
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    on_ready: Callable[[list[Service]], None] | None = None,
    on_change: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Start ``services`` in order, restart any that dies, stop them all on SIGINT or SIGTERM.

    Args:
        services: The processes, in start order; each starts once the previous one is ready
            (or with it: ``Service.together``).
        var_dir: Holds ``log/<name>.log`` and the status file (:mod:`bot.processes`).
        env: Added to this process's environment for every child (before ``Service.env``).
        backoff: Waits between restarts of a process that died after it had been ready
            (default :class:`Backoff`).
        startup_timeout: Seconds a process may take to answer its health URL.
        on_ready: Called once, when every process has been ready.
        on_change: Called with the status (as the status file has it) whenever a process
            changes state.

    Returns:
        0 when stopped by a signal after start-up, 1 when start-up did not finish.
    """
    supervisor = _Supervisor(
        services, var_dir, env, backoff or Backoff(), startup_timeout, on_change
    )
    stopping = False

    def request_stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        announced = False
        while not stopping:
            failed = supervisor.tick()
            if failed is not None:
                child, reason = failed
                _report_failure(child.service, reason)
                return 1
            if not announced and supervisor.all_ready():
                announced = True
                if on_ready is not None:
                    on_ready(services)
            time.sleep(POLL_SECONDS)
        print("\nstopping…", flush=True)
        return 0 if announced else 1
    finally:
        _stop_all(services)
        with contextlib.suppress(FileNotFoundError):
            status_path(var_dir).unlink()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Supervisor:
    """The state of every child and what to do about it on each look."""

    def __init__(
        self,
        services: list[Service],
        var_dir: Path,
        env: Mapping[str, str],
        backoff: Backoff,
        startup_timeout: float,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.children = [_Child(service, since=_now_iso()) for service in services]
        self.log_dir = var_dir / "log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.status_file = status_path(var_dir)
        self.env = env
        self.backoff = backoff
        self.startup_timeout = startup_timeout
        self.started_at = _now_iso()
        self.on_change = on_change

    def all_ready(self) -> bool:
        return all(child.ready_once for child in self.children)

    def tick(self) -> tuple[_Child, str] | None:
        """Look at every child once; return one that failed to start, with the reason."""
        now = time.monotonic()
        for child in self.children:
            process = child.service.process
            if child.state in (State.STARTING, State.UP):
                assert process is not None
                if process.poll() is not None:
                    if not child.ready_once:
                        return child, _describe_exit(process.returncode)
                    # What it started in its group must not keep its port or files.
                    _signal_group(process, signal.SIGKILL)
                    self._died(child, now, _describe_exit(process.returncode), process.returncode)
                elif child.state is State.STARTING:
                    if _healthy(child.service.health_url):
                        self._up(child, now)
                    elif now - child.started_at > self.startup_timeout:
                        reason = f"not ready within {self.startup_timeout:g} s"
                        if not child.ready_once:
                            return child, reason
                        _signal_group(process, signal.SIGKILL)
                        process.wait()
                        self._died(child, now, reason, process.returncode)
            elif child.state is State.RESTARTING and now >= child.next_start:
                self._restart(child, now)
        pending = next((c for c in self.children if c.state is State.PENDING), None)
        if pending is not None:
            index = first = self.children.index(pending)
            while first > 0 and self.children[first].service.together:
                first -= 1
            if all(c.ready_once for c in self.children[:first]):
                for child in self.children[index:]:
                    if child is not pending and not child.service.together:
                        break
                    self._start(child, now)
        return None

    def _start(self, child: _Child, now: float) -> None:
        service = child.service
        service.log_path = self.log_dir / f"{service.name}.log"
        if not child.ready_once:
            print(f"starting {service.name} (log: {service.log_path})", flush=True)
        with service.log_path.open("ab") as log:
            log.write(f"--- refundbot: starting {service.name} at {_now_iso()} ---\n".encode())
            log.flush()
            service.process = subprocess.Popen(
                service.argv,
                cwd=PROJECT_ROOT,
                env={**os.environ, **self.env, **service.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child.started_at = now
        child.up_since = None
        self._set(child, State.STARTING)

    def _restart(self, child: _Child, now: float) -> None:
        child.restarts += 1
        child.next_start_at = None
        _say(
            f"restarting {child.service.name} (restart {child.restarts} since start-up;"
            f" log: {child.service.log_path})"
        )
        try:
            self._start(child, now)
        except OSError as e:
            child.service.process = None
            self._died(child, now, f"could not be started: {e}", None)

    def _up(self, child: _Child, now: float) -> None:
        child.up_since = now
        again = child.ready_once
        child.ready_once = True
        self._set(child, State.UP)
        if again:
            assert child.service.process is not None
            _say(f"{child.service.name} is up again (pid {child.service.process.pid})")

    def _died(self, child: _Child, now: float, reason: str, returncode: int | None) -> None:
        process = child.service.process
        pid = f"pid {process.pid}" if process is not None else "not started"
        up_for = now - child.up_since if child.up_since is not None else 0.0
        if up_for >= self.backoff.reset_after_seconds:
            child.attempt = 0
        when = f"after {up_for:.0f} s up" if child.up_since is not None else "before it was ready"
        child.attempt += 1
        delay = self.backoff.delay(child.attempt)
        child.next_start = now + delay
        child.next_start_at = _now_iso(delay)
        child.last_exit = {"returncode": returncode, "reason": reason, "at": _now_iso()}
        self._set(child, State.RESTARTING)
        _say(
            f"{child.service.name} ({pid}) {reason} {when};"
            f" restart attempt {child.attempt} in {delay:g} s"
        )

    def _set(self, child: _Child, state: State) -> None:
        child.state = state
        child.since = _now_iso()
        self._write_status()

    def _write_status(self) -> None:
        status = self._status()
        try:
            write_status(self.status_file, status)
            if self.on_change is not None:
                self.on_change(status)
        except OSError as e:
            # A full disk must not take the assistant down: the processes matter more.
            _say(f"cannot write the status of the processes: {e}")

    def _status(self) -> dict[str, Any]:
        return {
            "supervisor": {"pid": os.getpid(), "started_at": self.started_at},
            "updated_at": _now_iso(),
            "children": {
                child.service.name: {
                    "state": child.state.value,
                    "since": child.since,
                    "pid": (
                        child.service.process.pid
                        if child.service.process is not None
                        and child.state in (State.STARTING, State.UP)
                        else None
                    ),
                    "restarts": child.restarts,
                    "last_exit": child.last_exit,
                    "next_start_at": child.next_start_at,
                }
                for child in self.children
            },
        }


def _describe_exit(returncode: int) -> str:
    """Say how a process ended: ``exited with code 3`` or ``killed by SIGKILL``."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _now_iso(later_seconds: float = 0.0) -> str:
    moment = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=later_seconds)
    return moment.isoformat(timespec="seconds")


def _say(message: str) -> None:
    # Deaths and restarts happen long after the start-up lines: each says when it happened.
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    print(f"[{stamp}] refundbot: {message}", file=sys.stderr, flush=True)


def _stop_all(started: list[Service]) -> None:
    for service in reversed(started):
        if service.process and service.process.poll() is None:
            _signal_group(service.process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for service in reversed(started):
        if service.process is None:
            continue
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(service.process, signal.SIGKILL)
            service.process.wait()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _report_failure(service: Service, reason: str) -> None:
    print(f"refundbot: {service.name} did not become ready: {reason}.", file=sys.stderr)
    if service.log_path and service.log_path.exists():
        tail = service.log_path.read_text(errors="replace").splitlines()[-25:]
        print(f"last lines of {service.log_path}:", file=sys.stderr)
        for line in tail:
            print(f"  {line}", file=sys.stderr)
