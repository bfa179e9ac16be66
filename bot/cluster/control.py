"""``refundbot cluster start|stop|status``: several of every process on one machine, behind nginx.

``start`` prepares the PostgreSQL database (created when missing, migrated; with the demo shop on,
seeded with the demo orders as ``make run`` has them), lays the cluster out
(:mod:`bot.cluster.layout`), and starts its supervisor (:mod:`bot.supervisor`) in a session of its
own, which starts the processes and restarts any that dies; ``start`` returns once every one is
ready and prints where they are. The supervisor records what it started in the state file
(:mod:`bot.cluster.state`). ``stop`` asks the supervisor to stop everything, then kills whatever
of the recorded process groups still runs, and nothing else; ``status`` lists the processes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy import text as sql
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.cluster import layout, nginx, state
from bot.processes import status_path
from bot.settings import PROJECT_ROOT, ConfigError, PolicySettings, Settings
from bot.supervisor import supervise

DEFAULT_MODEL = PROJECT_ROOT / "models" / "refundbot.tar.gz"
#: How long ``stop`` lets the supervisor stop its processes before killing what is left.
STOP_WAIT_SECONDS = 60.0
#: How long one process may take to be ready: Rasa servers load the model side by side.
STARTUP_TIMEOUT_SECONDS = 300.0
#: How long ``start`` waits for the whole cluster.
START_WAIT_SECONDS = 1200.0


def register(commands: Any) -> None:
    """Add ``cluster start|stop|status`` to the ``refundbot`` command."""
    cluster = commands.add_parser(
        "cluster",
        help="several gateways, Rasa and action servers behind nginx, on PostgreSQL and Redis",
        description=(
            "Run the assistant as a cluster on this machine: REFUNDBOT_CLUSTER_GATEWAYS, "
            "_RASA_SERVERS and _ACTION_SERVERS (2 each) behind nginx on REFUNDBOT_CLUSTER_PORT "
            "(8000), on REFUNDBOT_CLUSTER_DATABASE_URL (PostgreSQL, database refundbot_cluster) "
            "and REFUNDBOT_CLUSTER_REDIS_URL (redis://127.0.0.1:6379/0). Files: var/cluster/."
        ),
    ).add_subparsers(metavar="ACTION")
    start_cmd = cluster.add_parser("start", help="start the cluster; return once it is ready")
    start_cmd.add_argument("--model", type=Path, default=None, help="trained model (.tar.gz)")
    start_cmd.set_defaults(handler=start)
    stop_cmd = cluster.add_parser("stop", help="stop every process the cluster started")
    stop_cmd.set_defaults(handler=stop)
    status_cmd = cluster.add_parser("status", help="list the cluster's processes")
    status_cmd.add_argument("--json", action="store_true", help="print the state file's JSON")
    status_cmd.set_defaults(handler=status)


def start(settings: Settings, args: argparse.Namespace) -> int:
    """Start the cluster and print where it is; 0 once everything is ready."""
    var_dir = layout.cluster_var_dir(settings)
    current = state.read_state(var_dir)
    if current is not None and state.running(current["supervisor"]):
        print(
            f"refundbot: a cluster is already running ({current['entry_url']}):"
            " `refundbot cluster status`, `refundbot cluster stop`",
            file=sys.stderr,
        )
        return 1
    if current is not None:
        # Its supervisor is gone: what it left running must not hold the ports.
        _stop_recorded(var_dir, current, quiet=True)
    model = args.model or DEFAULT_MODEL
    try:
        cluster = layout.ClusterSettings.from_env(os.environ)
        if not model.exists():
            raise ConfigError(f"no trained model at {model}; run `make train` first")
        binary = nginx.find_nginx(cluster.nginx)
        _check_redis(cluster.redis_url)
        prepare_database(
            cluster.database_url, seed=settings.gateway.demo_shop, policy=settings.policy
        )
        plan = layout.plan(settings, cluster, model=model, nginx_binary=binary)
    except (ConfigError, nginx.NginxError) as e:
        print(f"refundbot: {e}", file=sys.stderr)
        return 2
    log_path = var_dir / "log" / "supervisor.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"starting the cluster (supervisor log: {log_path})", flush=True)
    with log_path.open("ab") as log:
        # It forks the supervisor off and prints its pid: the supervisor is nobody's child here.
        starter = subprocess.Popen(
            [sys.executable, "-m", "bot.cluster"],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        out, _ = starter.communicate(json.dumps(plan.to_json()).encode(), timeout=60)
    supervisor = state.record(int(out.decode().strip() or 0))
    try:
        return _await_ready(supervisor, var_dir, log_path, settings)
    except KeyboardInterrupt:
        if state.running(supervisor):
            os.kill(supervisor["pid"], signal.SIGTERM)
        return 130


def _await_ready(
    supervisor: dict[str, Any], var_dir: Path, log_path: Path, settings: Settings
) -> int:
    deadline = time.monotonic() + START_WAIT_SECONDS
    while time.monotonic() < deadline:
        current = state.read_state(var_dir)
        if current is not None and current.get("ready"):
            _print_banner(current, settings)
            return 0
        if not state.running(supervisor):
            print("refundbot: the cluster did not start.", file=sys.stderr)
            tail = log_path.read_text(errors="replace").splitlines()[-40:]
            print(f"last lines of {log_path}:", file=sys.stderr)
            for line in tail:
                print(f"  {line}", file=sys.stderr)
            return 1
        time.sleep(0.5)
    print(f"refundbot: the cluster was not ready in {START_WAIT_SECONDS:g} s", file=sys.stderr)
    os.kill(supervisor["pid"], signal.SIGTERM)
    return 1


def stop(settings: Settings, args: argparse.Namespace) -> int:
    """Stop every process the cluster's state file records; 0 when none is left."""
    var_dir = layout.cluster_var_dir(settings)
    current = state.read_state(var_dir)
    if current is None:
        print("no cluster is running")
        return 0
    return _stop_recorded(var_dir, current, quiet=False)


def _stop_recorded(var_dir: Path, current: dict[str, Any], *, quiet: bool) -> int:
    supervisor = current["supervisor"]
    if state.running(supervisor):
        os.kill(supervisor["pid"], signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while state.running(supervisor) and time.monotonic() < deadline:
            time.sleep(0.1)
    # What the supervisor could not stop (or, gone, did not): the recorded groups, no other.
    groups = [supervisor, *current.get("groups", [])]
    killed = state.kill_groups(groups)
    left = [pid for group in groups for pid in state.survivors(group)]
    if left:
        print(f"refundbot: processes of the cluster still run: {left}", file=sys.stderr)
        return 1
    state.remove_state(var_dir)
    with contextlib.suppress(FileNotFoundError):
        status_path(var_dir).unlink()
    if not quiet:
        names = ", ".join(current.get("processes", {}))
        print(f"stopped the cluster ({names})")
        if killed:
            print(f"killed what was left of it: pids {', '.join(map(str, killed))}")
    return 0


def status(settings: Settings, args: argparse.Namespace) -> int:
    """Print the cluster's processes; 0 when every one is up, 1 when not, 3 with no cluster."""
    current = state.read_state(layout.cluster_var_dir(settings))
    if current is None:
        print("no cluster is running")
        return 3
    supervisor_up = state.running(current["supervisor"])
    processes = current.get("processes", {})
    if args.json:
        print(json.dumps({**current, "supervisor_running": supervisor_up}, indent=2))
    else:
        print(f"cluster at {current['entry_url']}  (started {current['started_at']})")
        pid = current["supervisor"]["pid"]
        print(f"supervisor pid {pid}: {'running' if supervisor_up else 'GONE (nothing restarts)'}")
        rows = [["process", "role", "address", "state", "pid", "restarts"]]
        rows += [
            [name, p["role"], p["address"], p["state"], str(p["pid"] or "-"), str(p["restarts"])]
            for name, p in processes.items()
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    up = supervisor_up and all(p["state"] == "up" for p in processes.values())
    return 0 if up else 1


def _check_redis(url: str) -> None:
    import redis
    from redis.exceptions import RedisError

    try:
        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        client.ping()
        client.close()
    except (RedisError, OSError, ValueError) as e:
        raise ConfigError(
            f"Redis at {url} does not answer ({e}): set REFUNDBOT_CLUSTER_REDIS_URL"
        ) from e


def prepare_database(url: str, *, seed: bool, policy: PolicySettings) -> None:
    """Create the PostgreSQL database at ``url`` when missing, migrate it, seed the demo data.

    Raises:
        ConfigError: PostgreSQL cannot be reached.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from bot.clock import utcnow
    from bot.refunds.db import dispose, get_sessionmaker
    from bot.refunds.demo import seed_demo
    from bot.refunds.migrate import upgrade

    parsed = make_url(url)
    admin = create_engine(
        parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        with admin.connect() as conn:
            found = conn.execute(
                sql("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            ).first()
            if found is None:
                # The name is checked to be [A-Za-z0-9_] (layout.ClusterSettings).
                conn.execute(sql(f'CREATE DATABASE "{parsed.database}"'))
                print(f"created the database {parsed.database}")
    except SQLAlchemyError as e:
        raise ConfigError(
            f"PostgreSQL does not answer at {parsed.render_as_string(hide_password=True)}"
            f" ({type(e).__name__}): set REFUNDBOT_CLUSTER_DATABASE_URL"
        ) from e
    finally:
        admin.dispose()
    upgrade(url)
    if seed:
        with get_sessionmaker(url).begin() as session:
            seed_demo(session, now=utcnow(), settings=policy)
        print("demo customers and orders are in place (customers c-1001, c-1002, c-1003)")
    dispose(url)


def serve(plan: layout.Plan) -> int:
    """Run the cluster's processes under the supervisor and keep the state file; return 0 or 1."""
    me = state.record(os.getpid())
    current: dict[str, Any] = {
        "entry_url": plan.entry_url,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "supervisor": me,
        "ready": False,
        "nginx_config": str(plan.nginx_config),
        "actions_url": plan.actions_url,
        "log_dir": str(plan.var_dir / "log"),
        "processes": {
            m.name: {
                "role": m.role,
                "address": m.address,
                "state": "pending",
                "pid": None,
                "restarts": 0,
            }
            for m in plan.members
        },  # fmt: skip
        "groups": [],
    }
    state.write_state(plan.var_dir, current)

    def changed(status: dict[str, Any]) -> None:
        groups = [g for g in current["groups"] if state.survivors(g)]
        for name, child in status["children"].items():
            entry = current["processes"][name]
            entry.update(
                state=child["state"],
                pid=child["pid"],
                restarts=child["restarts"],
                last_exit=child["last_exit"],
            )
            if child["pid"] is not None and not any(g["pid"] == child["pid"] for g in groups):
                groups.append(state.record(child["pid"]))
        current["groups"] = groups
        state.write_state(plan.var_dir, current)

    def ready(_: object) -> None:
        current["ready"] = True
        state.write_state(plan.var_dir, current)

    try:
        return supervise(
            plan.services,
            var_dir=plan.var_dir,
            env=plan.env,
            startup_timeout=STARTUP_TIMEOUT_SECONDS,
            on_ready=ready,
            on_change=changed,
        )
    finally:
        state.remove_state(plan.var_dir)


def _print_banner(current: dict[str, Any], settings: Settings) -> None:
    entry = current["entry_url"]
    lines = [
        "",
        f"The refund assistant runs as a cluster behind nginx:  {entry}",
        "",
    ]
    if settings.gateway.demo_shop:
        lines += [
            f"  Demo shop with the chat widget:  {entry}",
            "  (REFUNDBOT_DEMO_SHOP=true: signs anyone in as any demo customer;"
            " never on a real shop)",
        ]
    else:
        lines.append(
            f'  Chat widget for your shop\'s pages:  <script src="{entry}widget.js" async></script>'
        )
    lines += [
        f"  Agent console:  {entry}console",
        f"  Shop API:       {entry}api/v1/",
        "",
        "  process       address            pid",
    ]
    for name, process in current["processes"].items():
        lines.append(f"  {name:<13} {process['address']:<18} {process['pid']}")
    lines += [
        "",
        f"  Rasa's action endpoint (nginx to the action servers):  {current['actions_url']}",
        f"  nginx configuration:  {current['nginx_config']}",
        f"  Logs:                 {current['log_dir']}/",
        "",
        "Status: refundbot cluster status    Stop: make cluster-stop (refundbot cluster stop)",
        "",
    ]
    print("\n".join(lines), flush=True)
