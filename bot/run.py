"""``refundbot run``: start every process of the assistant, keep them running, stop them all.

The action server, Rasa (one server or more) and the gateway start one after the other under the
supervisor (:mod:`bot.supervisor`), each once the previous one answers its health URL, with their
output in ``var/log/<name>.log``; one that dies after it was ready is restarted with a back-off
while the others keep running, and ``var/processes.json`` (:mod:`bot.processes`), which the
gateway's ``GET /health`` shows, says what runs. Ctrl-C (SIGINT) or SIGTERM stops every process
that was started.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from bot.settings import PROJECT_ROOT, Settings, ensure_rasa_token
from bot.supervisor import Service, supervise

DEFAULT_MODEL = PROJECT_ROOT / "models" / "refundbot.tar.gz"
#: Rasa's response generator: the domain's responses in the conversation's language.
NLG = "bot.nlg.LanguageResponses"


def rasa_endpoints(settings: Settings) -> dict[str, Any]:
    """Return Rasa's endpoints: action server, SQL tracker store, lock store, responses.

    Responses come from :class:`bot.nlg.LanguageResponses`, in each conversation's language.
    """
    url = make_url(settings.tracker_store)
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
        "nlg": {"type": NLG},
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


def default_rasa_workers() -> int:
    """Return how many Rasa servers ``refundbot run`` starts when not told: two, one per core.

    A Rasa server answers one turn at a time on one core, mostly in Python; on the 2-core
    development machine a second one raised the conversations answered through the gateway by
    40-65 % (README, "Performance") for 1.4 GB more memory. More than two are not started by
    default: the action server, the gateway and the database need the rest of the machine.
    """
    return max(1, min(2, os.cpu_count() or 1))


def rasa_urls(settings: Settings, workers: int) -> list[str]:
    """Return the URLs of ``workers`` Rasa servers: ``REFUNDBOT_RASA_URL``'s port and the next."""
    scheme_host, port = settings.rasa_url.rsplit(":", 1)
    return [f"{scheme_host}:{int(port) + i}" for i in range(workers)]


def services(settings: Settings, model: Path, *, rasa_workers: int = 1) -> list[Service]:
    """Return the processes of the assistant, in start order.

    ``rasa_workers`` Rasa servers listen on the port of ``REFUNDBOT_RASA_URL`` and the ones after
    it, with the same endpoints file, named ``rasa``, ``rasa-2``, …, started one after the other
    (two loading the model at once on a busy 2-core machine took longer than the start-up
    timeout); the gateway gets all their URLs and gives each conversation a home server
    (:mod:`bot.gateway.rasa`).

    With the default SQLite tracker store they all use one file, ``var/rasa-tracker.db``, rather
    than a file each. Rasa's SQL tracker store keeps nothing between turns in memory (it reads
    the conversation's events at the start of a turn and appends the new ones at the end), and
    SQLite lets one process write at a time while the others wait for its lock (up to 5 s, far
    longer than a turn's few inserts). A conversation's turns all go to its home server, one at
    a time (the gateway's router), so two processes never write one conversation at once; when
    its home server is down, the next one reads the same events and the form goes on where it
    was. Files of their own would make that failover start the conversation over. Without Redis
    each Rasa server's lock store is its own, in memory, which is enough because the one
    gateway sends a conversation's turns one after the other; several gateways need
    ``REFUNDBOT_REDIS_URL`` (the Redis lock store).
    """
    if rasa_workers < 1:
        raise ValueError("at least one Rasa server is needed")
    token = ensure_rasa_token(settings)
    endpoints_file = write_endpoints(settings, settings.var_dir / "endpoints.yml")
    action_port = int(settings.action_server_url.rsplit(":", 1)[1].split("/", 1)[0])
    urls = rasa_urls(settings, rasa_workers)
    rasa = [
        rasa_server(
            "rasa" if i == 0 else f"rasa-{i + 1}",
            int(url.rsplit(":", 1)[1]),
            model=model,
            token=token,
            endpoints_file=endpoints_file,
        )
        for i, url in enumerate(urls)
    ]
    front = gateway("gateway", settings.gateway.port, token=token)
    front.env["REFUNDBOT_RASA_URL"] = ",".join(urls)
    return [action_server("actions", action_port), *rasa, front]


#: Rasa's and TensorFlow's chatter that no process of the assistant needs.
QUIET = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def write_endpoints(settings: Settings, path: Path) -> Path:
    """Write Rasa's endpoints file for ``settings`` (it may hold passwords: mode 600)."""
    path.write_text(yaml.safe_dump(rasa_endpoints(settings), sort_keys=False))
    path.chmod(0o600)
    return path


def action_server(name: str, port: int) -> Service:
    """Return the action server on 127.0.0.1:``port``."""
    return Service(
        name=name,
        argv=[_python(), "-m", "bot.action_server", "--actions", "actions", "--port", str(port)],
        health_url=f"http://127.0.0.1:{port}/health",
        env={**QUIET, "SANIC_HOST": "127.0.0.1"},
    )


def rasa_server(name: str, port: int, *, model: Path, token: str, endpoints_file: Path) -> Service:
    """Return a Rasa server with its HTTP API (``token``) on 127.0.0.1:``port``."""
    return Service(
        name=name,
        argv=[
            _python(), "-m", "bot.rasa_server", "run",
            "--enable-api", f"--auth-token={token}",
            "--interface", "127.0.0.1", "--port", str(port), "--model", str(model),
            "--endpoints", str(endpoints_file),
            "--credentials", str(PROJECT_ROOT / "credentials.yml"),
        ],
        health_url=f"http://127.0.0.1:{port}/status?token={token}",
        env=QUIET,
    )  # fmt: skip


def gateway(name: str, port: int, *, token: str) -> Service:
    """Return a gateway listening on ``port`` (REFUNDBOT_PORT) that calls Rasa with ``token``."""
    return Service(
        name=name,
        argv=[_python(), "-m", "bot.gateway"],
        # /health answers 503 while a dependency is down; liveness is what start-up needs.
        health_url=f"http://127.0.0.1:{port}/health/live",
        env={**QUIET, "REFUNDBOT_RASA_TOKEN": token, "REFUNDBOT_PORT": str(port)},
    )


def _python() -> str:
    return str(Path(sys.executable).parent / "python")


def run_all(
    settings: Settings, *, model: Path | None = None, rasa_workers: int | None = None
) -> int:
    """Start every service, print where to go, keep them running until Ctrl-C; return a status.

    ``rasa_workers`` Rasa servers are started (default :func:`default_rasa_workers`).
    """
    model = model or DEFAULT_MODEL
    if not model.exists():
        print(f"refundbot: no trained model at {model}; run `make train` first", file=sys.stderr)
        return 2
    if len(settings.rasa_servers) > 1:
        print(
            "refundbot: `refundbot run` starts its own Rasa servers: give REFUNDBOT_RASA_URL one"
            " URL (the first port) and --rasa-workers N",
            file=sys.stderr,
        )
        return 2
    api_key = _demo_api_key(settings) if settings.gateway.demo_shop else None
    return supervise(
        services(settings, model, rasa_workers=rasa_workers or default_rasa_workers()),
        var_dir=settings.var_dir,
        env={
            "REFUNDBOT_DATABASE_URL": settings.database_url,
            "REFUNDBOT_VAR_DIR": str(settings.var_dir),
        },
        on_ready=lambda started: _print_banner(settings, started, api_key),
    )


def _demo_api_key(settings: Settings) -> str:
    """Return the line that shows the demo's API key (made once per database)."""
    from bot.api.demo import demo_key
    from bot.clock import utcnow
    from bot.refunds.db import get_sessionmaker

    with get_sessionmaker(settings.database_url).begin() as session:
        key = demo_key(session, var_dir=settings.var_dir, now=utcnow())
    if key is None:
        return "a key named demo exists but is not in var/; `refundbot api-key revoke demo`"
    return f"{key}   (every scope; demo only)"


def _print_banner(settings: Settings, started: list[Service], api_key: str | None) -> None:
    names = ", ".join(s.name for s in started)
    rasa_count = sum(1 for s in started if s.name.startswith("rasa"))
    more_rasa = f"   (and {rasa_count - 1} more on the next ports)" if rasa_count > 1 else ""
    key = f"\n  Shop API key:  {api_key}" if api_key else ""
    shop = f"http://{settings.gateway.host}:{settings.gateway.port}/"
    demo = (
        f"Demo shop with the chat widget:  {shop}\n"
        "  (REFUNDBOT_DEMO_SHOP=true: signs anyone in as any demo customer; never on a real shop)"
        if settings.gateway.demo_shop
        else f'Chat widget for your shop\'s pages:  <script src="{shop}widget.js" async></script>'
    )
    print(
        f"""
The refund assistant is running ({names}).

  {demo}
  Agent console:  {shop}console   (first: .venv/bin/refundbot agent add NAME --role admin){key}
  Chat in this terminal, as demo customer Ana (c-1001):   make shell
  As another customer, or anonymously:                    make shell CUSTOMER=c-1002
                                                          make shell CUSTOMER=
  Rasa REST channel:  POST {settings.rasa_url}/webhooks/rest/webhook{more_rasa}
  Refund applications:  .venv/bin/refundbot refunds list

Press Ctrl-C to stop everything.
""",
        flush=True,
    )
