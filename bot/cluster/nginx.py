"""The cluster's nginx: its configuration, generated from the cluster's layout, and its command.

nginx is the cluster's one entry. It spreads the shop's and the buyers' requests over the
gateways round-robin: no stickiness is needed, since whatever a gateway records reaches the
sockets held by the others through Redis (:mod:`bot.gateway.fanout`) and a widget that
reconnects elsewhere gets its history from the shared database. The widget's WebSocket goes
through with the upgrade headers and a read timeout of an hour, so a quiet tab is not cut off.
A second listener, on loopback only, spreads Rasa's action calls over the action servers, so
every Rasa server has one ``action_endpoint``. Health checks are passive: a server that refuses
a connection or times out ``max_fails`` times is left out for ``fail_timeout`` seconds and the
request goes to the next one (a POST that reached a server is never sent twice).

nginx runs as the user who starts the cluster, in the foreground under the supervisor, with its
pid file, logs and temporary files in the cluster's folder (``-p``/``-c``/``-e``): no root.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

#: Where Debian's package (scripts/install-nginx.sh) puts it, when it is not on the PATH.
DEBIAN_NGINX = Path("/usr/sbin/nginx")
#: Failures before a server is left out, and for how long (seconds) it is left out.
MAX_FAILS = 1
FAIL_TIMEOUT_SECONDS = 10
#: A widget tab's socket may stay quiet this long (the widget pings well within it).
SOCKET_TIMEOUT_SECONDS = 3600
#: An action may take this long (Rasa's own limit on an action call is longer).
ACTION_TIMEOUT_SECONDS = 120
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class NginxError(RuntimeError):
    """nginx is missing or refuses the configuration; the message says which and why."""


def find_nginx(configured: str = "") -> Path:
    """Return the nginx binary: ``configured``, else the one on the PATH, else Debian's.

    Raises:
        NginxError: there is none.
    """
    candidates = [configured] if configured else [shutil.which("nginx") or "", str(DEBIAN_NGINX)]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise NginxError(
        "nginx is not installed: run scripts/install-nginx.sh (Debian's nginx-light),"
        " or set REFUNDBOT_NGINX to its path"
    )


def render(
    *,
    prefix: Path,
    listen: str,
    gateways: Sequence[int],
    actions_listen: int,
    action_servers: Sequence[int],
    max_body_bytes: int,
) -> str:
    """Return nginx.conf for the cluster.

    Args:
        prefix: nginx's own folder (pid file, temporary files); logs go to ``prefix/../log``.
        listen: The entry's address, ``host:port``.
        gateways: The gateways' ports on 127.0.0.1.
        actions_listen: The loopback port Rasa's action calls go to.
        action_servers: The action servers' ports on 127.0.0.1.
        max_body_bytes: The largest request body let through (the widget's uploads).
    """
    logs = prefix.parent / "log"
    temp = "\n".join(f"    {name}_temp_path {prefix / 'temp' / name};" for name in TEMP_PATHS)
    return f"""# Written by `refundbot cluster start` at every start (bot/cluster/nginx.py).
{_user()}worker_processes 1;
daemon off;
pid {prefix / "nginx.pid"};
error_log stderr warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log {logs / "nginx-access.log"} combined buffer=32k flush=2s;
{temp}
    client_max_body_size {max_body_bytes};
    server_tokens off;

    # A WebSocket handshake carries "Upgrade: websocket"; other requests keep the upstream
    # connection alive ("Connection:" empty).
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}

    upstream refundbot_gateways {{
{_servers(gateways)}
        keepalive 32;
    }}

    upstream refundbot_actions {{
{_servers(action_servers)}
        keepalive 16;
    }}

    server {{
        listen {listen};
        location / {{
            proxy_pass http://refundbot_gateways;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout {SOCKET_TIMEOUT_SECONDS}s;
            proxy_send_timeout {SOCKET_TIMEOUT_SECONDS}s;
            proxy_next_upstream error timeout;
        }}
    }}

    # Rasa's action endpoint: loopback only.
    server {{
        listen 127.0.0.1:{actions_listen};
        location / {{
            proxy_pass http://refundbot_actions;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Rasa sends the whole tracker with each call: keep it in memory, not a temp file.
            client_body_buffer_size 1m;
            client_max_body_size 16m;
            proxy_read_timeout {ACTION_TIMEOUT_SECONDS}s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def _servers(ports: Sequence[int]) -> str:
    return "\n".join(
        f"        server 127.0.0.1:{port} max_fails={MAX_FAILS}"
        f" fail_timeout={FAIL_TIMEOUT_SECONDS}s;"
        for port in ports
    )


def _user() -> str:
    # Started by root, nginx would hand its workers to "nobody", who cannot write its folder.
    if os.geteuid() != 0:
        return ""
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return f"user {user} {group};\n"


def write_config(config: str, prefix: Path) -> Path:
    """Write ``config`` as ``prefix/nginx.conf``, with the folders nginx needs; return its path."""
    for name in TEMP_PATHS:
        (prefix / "temp" / name).mkdir(parents=True, exist_ok=True)
    (prefix.parent / "log").mkdir(parents=True, exist_ok=True)
    path = prefix / "nginx.conf"
    path.write_text(config, encoding="utf-8")
    return path


def argv(nginx: Path, prefix: Path, config: Path) -> list[str]:
    """Return the command that runs nginx in the foreground on ``config``."""
    return [str(nginx), "-p", f"{prefix}/", "-c", str(config), "-e", "stderr"]


def check(nginx: Path, prefix: Path, config: Path) -> None:
    """Have nginx test ``config``.

    Raises:
        NginxError: nginx refuses it (the message holds what nginx said).
    """
    result = subprocess.run(
        [*argv(nginx, prefix, config), "-t", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise NginxError(f"nginx refuses {config}:\n{(result.stderr or result.stdout).strip()}")
