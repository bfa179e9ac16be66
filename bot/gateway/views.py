"""The gateway's own routes: health, the widget's files and socket, uploads, Telegram's webhook.

Handlers find the channel they serve in the app (it is built when the app starts); the agent
console and the demo shop add their routes themselves.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from aiohttp import web
from sqlalchemy import text as sql

from bot.channels.telegram import WEBHOOK_PATH
from bot.channels.webchat import STATIC_DIR
from bot.gateway import addresses, keys, transcript
from bot.gateway.rasa import probe
from bot.processes import read_status


def setup_routes(app: web.Application) -> None:
    """Add the gateway's routes to ``app``."""
    r = app.router
    r.add_get("/health", health)
    r.add_get("/health/live", live)
    r.add_get("/webchat/ws", webchat_socket)
    r.add_post("/webchat/upload", webchat_upload)
    r.add_route("OPTIONS", "/webchat/upload", webchat_upload_preflight)
    r.add_post(WEBHOOK_PATH, telegram_webhook)
    r.add_get("/widget.js", widget_file)
    r.add_get("/widget.css", widget_file)


async def webchat_socket(request: web.Request) -> web.StreamResponse:
    """Serve one widget tab's WebSocket."""
    return await request.app[keys.WEBCHAT].websocket(request)


async def webchat_upload(request: web.Request) -> web.Response:
    """Take an evidence file from the widget."""
    return await request.app[keys.WEBCHAT].upload(request)


async def webchat_upload_preflight(request: web.Request) -> web.Response:
    """Answer a CORS preflight for uploads from the shop's pages."""
    return await request.app[keys.WEBCHAT].upload_preflight(request)


async def telegram_webhook(request: web.Request) -> web.Response:
    """Pass a Telegram webhook call to the Telegram channel, when it runs."""
    channel = request.app[keys.TELEGRAM]
    if channel is None:
        raise web.HTTPNotFound(text="Telegram is not configured")
    return await channel.webhook(request)


async def widget_file(request: web.Request) -> web.FileResponse:
    """Serve the widget's script or style sheet (``/widget.js``, ``/widget.css``)."""
    return web.FileResponse(
        STATIC_DIR / request.path.removeprefix("/"), headers={"Cache-Control": "no-cache"}
    )


async def live(_: web.Request) -> web.Response:
    """Say the gateway process is up (for supervisors; ``/health`` checks dependencies)."""
    return web.json_response({"status": "ok"})


async def health(request: web.Request) -> web.Response:
    """Report each dependency: ``200`` when all are up, ``503`` otherwise.

    What is behind the status (addresses of the processes, the supervisor's restarts) is shown
    only to a caller on this machine or one that sends the health token.
    """
    app = request.app
    settings = app[keys.SETTINGS]
    http = app[keys.HTTP]
    checks: dict[str, dict[str, Any]] = {}
    try:
        await transcript.run_in_session(
            app[keys.SESSIONS],
            lambda s: s.execute(sql("SELECT 1")).scalar_one(),
            reconnect_seconds=0,  # the check says how the database is now
        )
        checks["database"] = {"ok": True}
    except Exception as e:
        checks["database"] = {"ok": False, "error": type(e).__name__}
    checks["rasa"] = rasa_check(await app[keys.RASA].probe_all())
    action_base = settings.action_server_url.rstrip("/").removesuffix("/webhook")
    checks["action_server"] = await probe(http, f"{action_base}/health")
    channel = app[keys.TELEGRAM]
    if settings.gateway.telegram_token:
        checks["telegram"] = {
            "ok": channel is not None and bool(channel.application.running),
            "mode": settings.gateway.telegram_mode,
        }
        if settings.gateway.telegram_mode == "polling":
            # One gateway polls (bot.channels.polling); the others stand by.
            updater = channel.application.updater if channel is not None else None
            checks["telegram"]["polling"] = updater is not None and bool(updater.running)
    ok = all(check["ok"] for check in checks.values())
    status = 200 if ok else 503
    body: dict[str, Any] = {"status": "ok" if ok else "degraded"}
    if not may_see_details(request):
        return web.json_response(body, status=status)
    body["checks"] = checks
    if (processes := read_status(settings.var_dir)) is not None:
        body["processes"] = processes
    return web.json_response(body, status=status)


def rasa_check(servers: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum up the Rasa servers' checks: ok while one answers (it takes the others' turns).

    With one server the check is that server's; with several, ``servers`` has each one's and
    ``up`` says how many answered, so a server that is down shows before buyers notice.
    """
    if len(servers) == 1:
        return servers[0]
    up = sum(1 for server in servers if server["ok"])
    return {"ok": up > 0, "up": up, "of": len(servers), "servers": servers}


def may_see_details(request: web.Request) -> bool:
    """Return whether the caller is an operator: on this machine, or sending the health token."""
    gateway = request.app[keys.SETTINGS].gateway
    token = gateway.health_token
    given = request.headers.get("Authorization", "")
    # A header's bytes that are not UTF-8 arrive surrogate-escaped.
    if token and hmac.compare_digest(
        given.encode(errors="surrogateescape"), f"Bearer {token}".encode()
    ):
        return True
    address = addresses.client_address(request, addresses.networks(gateway.trusted_proxies))
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
