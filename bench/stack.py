"""A throwaway copy of the whole product (actions, Rasa, gateway) on free ports.

Everything lives in a temporary directory: the SQLite refund store (migrated and seeded with
the demo orders), Rasa's tracker store, the logs. Nothing under the project's ``var/`` is used.
:func:`on_database` points a running stack's action server at another refund store (a test's
own, on SQLite or PostgreSQL) while Rasa keeps the model it took long to load.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

from bot.clock import utcnow
from bot.refunds.db import dispose, get_sessionmaker
from bot.refunds.demo import seed_demo
from bot.refunds.migrate import upgrade
from bot.run import services
from bot.settings import PROJECT_ROOT, GatewaySettings, PolicySettings, Settings

STARTUP_TIMEOUT_SECONDS = 240.0


class StackError(RuntimeError):
    """A process of the stack did not start; the message holds the tail of its log."""


@dataclasses.dataclass
class Process:
    """One running process of the stack, and how it was started."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    health_url: str

    @property
    def pid(self) -> int:
        """Return the process id (also its process group id)."""
        return self.popen.pid


@dataclasses.dataclass
class Stack:
    """Where the running stack can be reached."""

    workdir: Path
    settings: Settings
    shop_secret: str
    rasa_token: str
    processes: list[Process]

    @property
    def database_url(self) -> str:
        """Return the refund store's URL."""
        return self.settings.database_url

    @property
    def gateway_url(self) -> str:
        """Return the gateway's base URL."""
        return f"http://127.0.0.1:{self.settings.gateway.port}"

    @property
    def widget_ws_url(self) -> str:
        """Return the web widget's WebSocket URL."""
        return f"ws://127.0.0.1:{self.settings.gateway.port}/webchat/ws"

    @property
    def rasa_url(self) -> str:
        """Return the Rasa server's base URL."""
        return self.settings.rasa_url

    @property
    def action_server_url(self) -> str:
        """Return the action server's webhook URL."""
        return self.settings.action_server_url

    @property
    def var_dir(self) -> Path:
        """Return the stack's local state folder (evidence, secrets, logs)."""
        return self.settings.var_dir

    def pids(self) -> dict[str, int]:
        """Return each process's id by name."""
        return {p.name: p.pid for p in self.processes}

    def cpu_seconds(self) -> dict[str, float]:
        """Return the CPU time each process (with its children) has used so far, by name."""
        return {p.name: group_cpu_seconds(p.pid) for p in self.processes}

    def cpu_used_since(self, before: Mapping[str, float]) -> dict[str, float]:
        """Return the CPU time each process has used since ``before`` (a :meth:`cpu_seconds`)."""
        return {name: now - before.get(name, 0.0) for name, now in self.cpu_seconds().items()}


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def running_stack(
    model: Path,
    *,
    keep: bool = False,
    profile_gateway: Path | None = None,
    service_env: dict[str, dict[str, str]] | None = None,
    service_cwd: dict[str, Path] | None = None,
    only: Collection[str] | None = None,
    rasa_workers: int = 1,
) -> Iterator[Stack]:
    """Start actions, Rasa and the gateway on a fresh seeded database; stop them on exit.

    Args:
        model: The trained Rasa model to serve.
        keep: Keep the temporary directory (logs, databases) after stopping.
        profile_gateway: Run the gateway under cProfile and write its statistics here when it
            stops (the event loop's thread only: database work in worker threads is not seen).
        service_env: Extra environment per service name (``actions``, ``rasa``, ``gateway``),
            e.g. TensorFlow's thread counts for Rasa.
        service_cwd: Working directory per service, to try a modified copy of the code
            (``python -m`` imports from it first).
        only: Start only these services (e.g. tests that run the gateway in their own
            event loop start ``actions`` and ``rasa``).
        rasa_workers: Rasa servers to start (``rasa``, ``rasa-2``, … on consecutive ports).

    Raises:
        StackError: a process did not become healthy in time.
        FileNotFoundError: there is no model at ``model``.
    """
    if not model.exists():
        raise FileNotFoundError(f"no trained model at {model}")
    workdir = Path(tempfile.mkdtemp(prefix="refundbot-stack-"))
    var_dir = workdir / "var"
    var_dir.mkdir()
    database_url = f"sqlite:///{var_dir / 'refundbot.db'}"
    shop_secret = secrets.token_urlsafe(32)
    rasa_token = secrets.token_urlsafe(32)
    settings = Settings(
        var_dir=var_dir,
        database_url=database_url,
        rasa_url=f"http://127.0.0.1:{free_port()}",
        rasa_token=rasa_token,
        action_server_url=f"http://127.0.0.1:{free_port()}/webhook",
        gateway=GatewaySettings(port=free_port(), shop_secret=shop_secret),
    )
    prepare_database(database_url)
    started: list[Process] = []
    try:
        for service in services(settings, model, rasa_workers=rasa_workers):
            if only is not None and service.name not in only:
                continue
            if profile_gateway is not None and service.name == "gateway":
                python, _, module = service.argv
                service.argv = [python, "-m", "cProfile", "-o", str(profile_gateway), _, module]
            env = {
                **_clean_environ(),
                "REFUNDBOT_VAR_DIR": str(var_dir),
                "REFUNDBOT_DATABASE_URL": database_url,
                "REFUNDBOT_RASA_URL": settings.rasa_url,
                "REFUNDBOT_RASA_TOKEN": rasa_token,
                "REFUNDBOT_ACTION_SERVER_URL": settings.action_server_url,
                "REFUNDBOT_PORT": str(settings.gateway.port),
                "REFUNDBOT_SHOP_SECRET": shop_secret,
                # Every simulated buyer writes from 127.0.0.1, as fast as the bot answers.
                "REFUNDBOT_RATE_LIMIT_MESSAGES": "0",
                "REFUNDBOT_RATE_LIMIT_ADDRESS_MESSAGES": "0",
                "RASA_TELEMETRY_ENABLED": "false",
                "SANIC_HOST": "127.0.0.1",
                **service.env,
                **(service_env or {}).get(service.name, {}),
            }
            log_path = workdir / f"{service.name}.log"
            cwd = (service_cwd or {}).get(service.name, PROJECT_ROOT)
            popen = _popen(service.argv, env, cwd, log_path)
            process = Process(
                service.name, popen, log_path, service.argv, env, cwd, service.health_url
            )
            started.append(process)
            _wait_healthy(process)
        yield Stack(workdir, settings, shop_secret, rasa_token, started)
    finally:
        _stop(started)
        dispose(database_url)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def prepare_database(database_url: str) -> None:
    """Migrate the refund store at ``database_url`` as the product does; upsert the demo data."""
    upgrade(database_url)
    with get_sessionmaker(database_url).begin() as session:
        seed_demo(session, now=utcnow(), settings=PolicySettings())


@contextlib.contextmanager
def on_database(stack: Stack, database_url: str) -> Iterator[Stack]:
    """Run ``stack``'s action server on ``database_url`` meanwhile; Rasa stays as it is.

    The database is prepared as the stack's own was (:func:`prepare_database`) and the action
    server restarted with it on the port Rasa calls; on exit it is restarted on the stack's own
    database. Rasa needs no restart: the refund store is the action server's alone.

    Yields:
        ``stack`` as seen from ``database_url``.

    Raises:
        StackError: the action server did not come back up.
    """
    prepare_database(database_url)
    [actions] = [p for p in stack.processes if p.name == "actions"]
    own = actions.env
    try:
        _restart(actions, {**own, "REFUNDBOT_DATABASE_URL": database_url})
        settings = dataclasses.replace(stack.settings, database_url=database_url)
        yield dataclasses.replace(stack, settings=settings)
    finally:
        _restart(actions, own)


def _popen(
    argv: list[str], env: dict[str, str], cwd: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _restart(process: Process, env: dict[str, str]) -> None:
    _stop([process])
    process.env = env
    process.popen = _popen(process.argv, env, process.cwd, process.log_path)
    _wait_healthy(process)


def _clean_environ() -> dict[str, str]:
    # The caller's own REFUNDBOT_* (a production database, a Telegram token) must not leak in.
    return {k: v for k, v in os.environ.items() if not k.startswith("REFUNDBOT_")}


def _wait_healthy(process: Process) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            break
        try:
            with urllib.request.urlopen(process.health_url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    tail = process.log_path.read_text(errors="replace").splitlines()[-20:]
    raise StackError(f"{process.name} did not become ready; log tail:\n" + "\n".join(tail))


def _stop(started: list[Process]) -> None:
    for process in reversed(started):
        if process.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in reversed(started):
        try:
            process.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.popen.wait()


def _group_stats(pgid: int) -> Iterator[list[str]]:
    """Yield the ``/proc/<pid>/stat`` fields (after the command name) of group ``pgid``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces) start after the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            yield fields


def group_rss_bytes(pgid: int) -> int:
    """Return the resident memory of every process in group ``pgid`` (Linux ``/proc``)."""
    page = os.sysconf("SC_PAGE_SIZE")
    return sum(int(fields[21]) * page for fields in _group_stats(pgid))


def group_cpu_seconds(pgid: int) -> float:
    """Return the CPU time (user and system) used so far by the live processes of ``pgid``."""
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[11]) + int(fields[12]) for fields in _group_stats(pgid)) / ticks
