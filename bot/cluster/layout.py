"""What a cluster on one machine is made of: its settings, its ports and its processes.

``REFUNDBOT_CLUSTER_*`` say where the cluster keeps its data and where it listens; the other
``REFUNDBOT_*`` settings (the shop secret, allowed origins, limits, …) reach every process as
they do under ``refundbot run``. :func:`plan` turns them into the processes to supervise, in
start order: the action servers and the Rasa servers together, then the gateways, then nginx.
"""

from __future__ import annotations

import dataclasses
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bot.cluster import nginx
from bot.run import action_server, gateway, rasa_server, write_endpoints
from bot.settings import ConfigError, Settings, ensure_rasa_token, ensure_shop_secret
from bot.supervisor import Service

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/refundbot_cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PORT = 8000
DEFAULT_FIRST_PORT = 8101
ROLES = ("actions", "rasa", "gateway", "nginx")


@dataclasses.dataclass(frozen=True)
class ClusterSettings:
    """Where the cluster keeps its data and listens (``REFUNDBOT_CLUSTER_*``)."""

    database_url: str = DEFAULT_DATABASE_URL
    """PostgreSQL: the refund store and Rasa's tracker store; created when missing."""
    redis_url: str = DEFAULT_REDIS_URL
    """Rasa's lock store and the gateways' fan-out."""
    host: str = "127.0.0.1"
    """nginx's address for the shop and the buyers."""
    port: int = DEFAULT_PORT
    """nginx's port (0: any free port)."""
    first_port: int = DEFAULT_FIRST_PORT
    """The processes behind nginx listen on 127.0.0.1 from this port on (0: any free ports)."""
    gateways: int = 2
    rasa_servers: int = 2
    action_servers: int = 2
    nginx: str = ""
    """The nginx binary; empty means the one on the PATH, else Debian's /usr/sbin/nginx."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ClusterSettings:
        """Read ``REFUNDBOT_CLUSTER_*``; raise :class:`ConfigError` on a bad value."""
        database_url = env.get("REFUNDBOT_CLUSTER_DATABASE_URL") or DEFAULT_DATABASE_URL
        url = make_url(database_url)
        if url.get_backend_name() != "postgresql" or not url.database:
            raise ConfigError(
                "REFUNDBOT_CLUSTER_DATABASE_URL must name a PostgreSQL database "
                "(postgresql+psycopg2://user@host:5432/name): the cluster's processes share it"
            )
        if not re.fullmatch(r"[A-Za-z0-9_]{1,63}", url.database):
            raise ConfigError(
                "REFUNDBOT_CLUSTER_DATABASE_URL: the database name may hold only A-Z, a-z, 0-9"
                f" and _, got {url.database!r}"
            )
        return cls(
            database_url=database_url,
            redis_url=env.get("REFUNDBOT_CLUSTER_REDIS_URL") or DEFAULT_REDIS_URL,
            host=env.get("REFUNDBOT_CLUSTER_HOST") or "127.0.0.1",
            port=_port(env, "REFUNDBOT_CLUSTER_PORT", DEFAULT_PORT),
            first_port=_port(env, "REFUNDBOT_CLUSTER_FIRST_PORT", DEFAULT_FIRST_PORT),
            gateways=_count(env, "REFUNDBOT_CLUSTER_GATEWAYS"),
            rasa_servers=_count(env, "REFUNDBOT_CLUSTER_RASA_SERVERS"),
            action_servers=_count(env, "REFUNDBOT_CLUSTER_ACTION_SERVERS"),
            nginx=env.get("REFUNDBOT_NGINX") or "",
        )


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > 65535:
        raise ConfigError(f"{name} must be a port number (0: any free port), got {raw!r}")
    return int(raw)


def _count(env: Mapping[str, str], name: str) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return 2
    if not raw.isdigit() or not 1 <= int(raw) <= 16:
        raise ConfigError(f"{name} must be a number from 1 to 16, got {raw!r}")
    return int(raw)


@dataclasses.dataclass(frozen=True)
class Member:
    """One process of the cluster and where it listens."""

    name: str
    role: str
    port: int
    host: str = "127.0.0.1"

    @property
    def address(self) -> str:
        """Return ``host:port``."""
        return f"{self.host}:{self.port}"


@dataclasses.dataclass
class Plan:
    """Everything the cluster's supervisor needs, and what the banner and the state file say."""

    var_dir: Path
    entry_url: str
    members: list[Member]
    services: list[Service]
    env: dict[str, str]
    """Every process's environment on top of the supervisor's own."""
    nginx_config: Path
    actions_url: str
    """The action endpoint of every Rasa server: nginx's loopback listener."""

    def to_json(self) -> dict[str, Any]:
        """Return the plan as the supervisor process reads it (it holds secrets: not a file)."""
        return {
            "var_dir": str(self.var_dir),
            "entry_url": self.entry_url,
            "members": [dataclasses.asdict(m) for m in self.members],
            "services": [
                {
                    "name": s.name,
                    "argv": s.argv,
                    "health_url": s.health_url,
                    "env": s.env,
                    "together": s.together,
                }
                for s in self.services
            ],
            "env": self.env,
            "nginx_config": str(self.nginx_config),
            "actions_url": self.actions_url,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        """Return the plan :meth:`to_json` wrote."""
        return cls(
            var_dir=Path(data["var_dir"]),
            entry_url=data["entry_url"],
            members=[Member(**m) for m in data["members"]],
            services=[Service(**s) for s in data["services"]],
            env=dict(data["env"]),
            nginx_config=Path(data["nginx_config"]),
            actions_url=data["actions_url"],
        )


def cluster_var_dir(settings: Settings) -> Path:
    """Return the cluster's folder: shared secrets, evidence, logs, nginx, the state file."""
    return settings.var_dir / "cluster"


def ports(cluster: ClusterSettings, count: int) -> list[int]:
    """Return ``count`` ports from ``first_port`` on, or free ones when it is 0.

    Raises:
        ConfigError: one of them is taken.
    """
    if cluster.first_port == 0:
        return [free_port() for _ in range(count)]
    chosen = list(range(cluster.first_port, cluster.first_port + count))
    if chosen[-1] > 65535:
        raise ConfigError("REFUNDBOT_CLUSTER_FIRST_PORT is too high for the cluster's ports")
    for port in chosen:
        if not port_is_free("127.0.0.1", port):
            raise ConfigError(
                f"port {port} is in use: the cluster takes {count} ports from "
                f"REFUNDBOT_CLUSTER_FIRST_PORT={cluster.first_port} on"
            )
    return chosen


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    """Return whether ``host:port`` can be listened on now."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def plan(settings: Settings, cluster: ClusterSettings, *, model: Path, nginx_binary: Path) -> Plan:
    """Lay the cluster out: ports, Rasa's endpoints, nginx's configuration, the processes.

    Writes the endpoints file and nginx.conf under the cluster's folder.

    Raises:
        ConfigError: a port is taken.
    """
    var_dir = cluster_var_dir(settings)
    var_dir.mkdir(parents=True, exist_ok=True)
    entry_port = cluster.port or free_port()
    if cluster.port and not port_is_free(cluster.host, entry_port):
        raise ConfigError(f"port {entry_port} is in use (REFUNDBOT_CLUSTER_PORT)")
    counts = (cluster.gateways, cluster.rasa_servers, cluster.action_servers)
    taken = iter(ports(cluster, sum(counts) + 1))
    gateways = [Member(f"gateway-{i}", "gateway", next(taken)) for i in range(1, counts[0] + 1)]
    rasas = [Member(f"rasa-{i}", "rasa", next(taken)) for i in range(1, counts[1] + 1)]
    actions = [Member(f"actions-{i}", "actions", next(taken)) for i in range(1, counts[2] + 1)]
    actions_port = next(taken)
    entry = Member("nginx", "nginx", entry_port, host=cluster.host)
    # Where this machine reaches the entry (a wildcard listener is on loopback too).
    host = "127.0.0.1" if cluster.host in ("0.0.0.0", "::") else cluster.host
    actions_url = f"http://127.0.0.1:{actions_port}/webhook"
    rasa_urls = ",".join(f"http://127.0.0.1:{m.port}" for m in rasas)
    shared = dataclasses.replace(
        settings,
        var_dir=var_dir,
        database_url=cluster.database_url,
        tracker_store_url=cluster.database_url,
        redis_url=cluster.redis_url,
        action_server_url=actions_url,
    )
    token = ensure_rasa_token(shared)
    ensure_shop_secret(shared)
    endpoints_file = write_endpoints(shared, var_dir / "endpoints.yml")
    prefix = var_dir / "nginx"
    config = nginx.write_config(
        nginx.render(
            prefix=prefix,
            listen=entry.address,
            gateways=[m.port for m in gateways],
            actions_listen=actions_port,
            action_servers=[m.port for m in actions],
            # Room for the multipart framing around the largest upload.
            max_body_bytes=settings.gateway.upload_max_bytes + 1024 * 1024,
        ),
        prefix,
    )
    nginx.check(nginx_binary, prefix, config)
    services = [action_server(m.name, m.port) for m in actions]
    services += [
        rasa_server(m.name, m.port, model=model, token=token, endpoints_file=endpoints_file)
        for m in rasas
    ]
    services += [gateway(m.name, m.port, token=token) for m in gateways]
    services.append(
        Service(
            name="nginx",
            argv=nginx.argv(nginx_binary, prefix, config),
            # Through nginx to a gateway: the entry works end to end.
            health_url=f"http://{host}:{entry.port}/health/live",
        )
    )
    # The action servers and Rasa servers load together, then the gateways start together.
    first_gateway = len(actions) + len(rasas)
    for index, service in enumerate(services):
        service.together = index not in (0, first_gateway, len(services) - 1)
    trusted = ",".join(dict.fromkeys([*settings.gateway.trusted_proxies, "127.0.0.1/32"]))
    env = {
        "REFUNDBOT_VAR_DIR": str(var_dir),
        "REFUNDBOT_DATABASE_URL": cluster.database_url,
        "REFUNDBOT_TRACKER_STORE_URL": cluster.database_url,
        "REFUNDBOT_REDIS_URL": cluster.redis_url,
        "REFUNDBOT_RASA_URL": rasa_urls,
        "REFUNDBOT_ACTION_SERVER_URL": actions_url,
        # nginx, on this machine, names the client in X-Forwarded-For.
        "REFUNDBOT_TRUSTED_PROXIES": trusted,
    }
    return Plan(
        var_dir=var_dir,
        entry_url=f"http://{host}:{entry.port}/",
        members=[*actions, *rasas, *gateways, entry],
        services=services,
        env=env,
        nginx_config=config,
        actions_url=actions_url,
    )
