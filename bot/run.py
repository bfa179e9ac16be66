"""``refundbot run``: start every process of the assistant, wait until healthy, stop them all.

Each process runs in its own process group with its output in ``var/log/<name>.log``; Ctrl-C
(SIGINT) or SIGTERM stops every process that was started, and so does any one of them dying.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from bot.settings import PROJECT_ROOT, Settings, ensure_rasa_token

DEFAULT_MODEL = PROJECT_ROOT / "models" / "refundbot.tar.gz"
STARTUP_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 15.0


@dataclass
class Service:
    """One process to supervise and the URL that says it is ready."""

    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None


def rasa_endpoints(settings: Settings) -> dict[str, Any]:
    """Return Rasa's endpoints configuration: action server, SQL tracker store, lock store."""
    tracker_url = settings.tracker_store_url or f"sqlite:///{settings.var_dir / 'rasa-tracker.db'}"
    url = make_url(tracker_url)
    dialect = url.get_backend_name()
    tracker: dict[str, Any] = {"type": "SQL", "dialect": dialect, "db": url.database}
    if dialect != "sqlite":
        tracker.update(
            {
                "url": url.host or "127.0.0.1",
                "port": url.port or 5432,
                "username": url.username,
                "password": url.password,
            }
        )
    endpoints: dict[str, Any] = {
        "action_endpoint": {"url": settings.action_server_url},
        "tracker_store": tracker,
    }
    if settings.redis_url:
        redis = make_url(settings.redis_url)
        endpoints["lock_store"] = {
            "type": "redis",
            "url": redis.host or "127.0.0.1",
            "port": redis.port or 6379,
            "db": int(redis.database or 0),
            "password": redis.password,
            "key_prefix": "refundbot",
        }
    return endpoints


def services(settings: Settings, model: Path) -> list[Service]:
    """Return the processes of the assistant, in start order."""
    bin_dir = Path(sys.executable).parent
    token = ensure_rasa_token(settings)
    endpoints_file = settings.var_dir / "endpoints.yml"
    endpoints_file.write_text(yaml.safe_dump(rasa_endpoints(settings), sort_keys=False))
    endpoints_file.chmod(0o600)
    action_port = settings.action_server_url.rsplit(":", 1)[1].split("/", 1)[0]
    rasa_port = settings.rasa_url.rsplit(":", 1)[1]
    quiet = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return [
        Service(
            name="actions",
            argv=[str(bin_dir / "python"), "-m", "rasa_sdk", "--actions", "actions",
                  "--port", action_port],
            health_url=f"http://127.0.0.1:{action_port}/health",
            env={**quiet, "SANIC_HOST": "127.0.0.1"},
        ),
        Service(
            name="rasa",
            argv=[
                str(bin_dir / "python"), "-m", "bot.rasa_server", "run",
                "--enable-api", f"--auth-token={token}",
                "--interface", "127.0.0.1", "--port", rasa_port, "--model", str(model),
                "--endpoints", str(endpoints_file),
                "--credentials", str(PROJECT_ROOT / "credentials.yml"),
            ],
            health_url=f"http://127.0.0.1:{rasa_port}/status?token={token}",
            env=quiet,
        ),
        Service(
            name="gateway",
            argv=[str(bin_dir / "python"), "-m", "bot.gateway"],
            # /health answers 503 while a dependency is down; liveness is what start-up needs.
            health_url=f"http://127.0.0.1:{settings.gateway.port}/health/live",
            env={**quiet, "REFUNDBOT_RASA_TOKEN": token},
        ),
    ]  # fmt: skip


def run_all(settings: Settings, *, model: Path | None = None) -> int:
    """Start every service, print where to go, and stop them all on Ctrl-C; return a status."""
    model = model or DEFAULT_MODEL
    if not model.exists():
        print(f"refundbot: no trained model at {model}; run `make train` first", file=sys.stderr)
        return 2
    log_dir = settings.var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    started: list[Service] = []
    stopping = False

    def request_stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for service in services(settings, model):
            _start(service, log_dir, settings)
            started.append(service)
            if not _wait_healthy(service, lambda: stopping):
                if not stopping:
                    _report_failure(service)
                return 1
        _print_banner(settings, started)
        while not stopping:
            for service in started:
                assert service.process is not None
                if service.process.poll() is not None:
                    print(f"\nrefundbot: {service.name} stopped unexpectedly", file=sys.stderr)
                    _report_failure(service)
                    return 1
            time.sleep(0.5)
        print("\nstopping…")
        return 0
    finally:
        _stop_all(started)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start(service: Service, log_dir: Path, settings: Settings) -> None:
    service.log_path = log_dir / f"{service.name}.log"
    log = service.log_path.open("ab")
    env = {
        **os.environ,
        "REFUNDBOT_DATABASE_URL": settings.database_url,
        "REFUNDBOT_VAR_DIR": str(settings.var_dir),
        **service.env,
    }
    print(f"starting {service.name} (log: {service.log_path})")
    service.process = subprocess.Popen(
        service.argv,
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()


def _wait_healthy(service: Service, stopping: Callable[[], bool]) -> bool:
    assert service.process is not None
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and not stopping():
        if service.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(service.health_url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


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


def _report_failure(service: Service) -> None:
    print(f"refundbot: {service.name} did not become ready.", file=sys.stderr)
    if service.log_path and service.log_path.exists():
        tail = service.log_path.read_text(errors="replace").splitlines()[-25:]
        print(f"last lines of {service.log_path}:", file=sys.stderr)
        for line in tail:
            print(f"  {line}", file=sys.stderr)


def _print_banner(settings: Settings, started: list[Service]) -> None:
    names = ", ".join(s.name for s in started)
    shop = f"http://{settings.gateway.host}:{settings.gateway.port}/"
    print(
        f"""
The refund assistant is running ({names}).

  Demo shop with the chat widget:  {shop}
  Agent console:  {shop}console   (first: .venv/bin/refundbot agent add NAME --role admin)
  Chat in this terminal, as demo customer Ana (c-1001):   make shell
  As another customer, or anonymously:                    make shell CUSTOMER=c-1002
                                                          make shell CUSTOMER=
  Rasa REST channel:  POST {settings.rasa_url}/webhooks/rest/webhook
  Refund applications:  .venv/bin/refundbot refunds list

Press Ctrl-C to stop everything.
""",
        flush=True,
    )
