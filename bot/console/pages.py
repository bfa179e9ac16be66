"""The console's pages: the sign-in form and the single page whose script does the rest."""

from __future__ import annotations

import html
import secrets
from pathlib import Path

from aiohttp import web

from bot.console.session import current_session
from bot.gateway import keys

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = ("console.js", "refunds.js", "orders.js", "insights.js", "review.js", "console.css")
LOGIN_COOKIE = "rb_console_login"


def login_response(request: web.Request, *, error: str | None, status: int = 200) -> web.Response:
    """Return the sign-in form, with ``error`` above it, and its CSRF cookie."""
    token = secrets.token_urlsafe(24)
    e = html.escape
    message = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in — agent console</title>
<link rel="stylesheet" href="/console/static/console.css">
</head><body class="login">
<main class="login-box">
<h1>Agent console</h1>
{message}
<form method="post" action="/console/login">
<input type="hidden" name="csrf" value="{e(token)}">
<label for="name">Name</label>
<input id="name" name="name" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</main></body></html>"""
    response = web.Response(text=page, content_type="text/html", status=status)
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=1800)
    return response


def set_cookie(
    request: web.Request,
    response: web.StreamResponse,
    name: str,
    value: str,
    *,
    max_age: int,
    path: str = "/console",
) -> None:
    """Set a console cookie: HttpOnly, SameSite=Strict, only under ``path``."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="Strict",
        secure=request.app[keys.SETTINGS].console.secure_cookies,
    )


async def index(request: web.Request) -> web.Response:
    """Serve the console's single page; its script reads everything else from the API."""
    session = current_session(request)
    e = html.escape
    insights_tab = (
        '<button type="button" class="tab" disabled data-view="insights" aria-pressed="false">'
        "Insights</button>\n"
        '<button type="button" class="tab" disabled data-view="review" aria-pressed="false">'
        "NLU review</button>\n"
        if session.agent.role.reads_insights
        else ""
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{e(session.csrf_token)}">
<title>Agent console</title>
<link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script>
<script src="/console/static/refunds.js" defer></script>
<script src="/console/static/orders.js" defer></script>
<script src="/console/static/insights.js" defer></script>
<script src="/console/static/review.js" defer></script>
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<h1>Agent console</h1>
<nav aria-label="Sections">
<button type="button" class="tab" disabled data-view="inbox" aria-pressed="true">
Conversations</button>
<button type="button" class="tab" disabled data-view="refunds" aria-pressed="false">Refunds</button>
<button type="button" class="tab" disabled data-view="orders" aria-pressed="false">Orders</button>
{insights_tab}</nav>
<p class="who">{e(session.agent.display_name)}
<span class="role">({e(session.agent.role.value)})</span></p>
<form method="post" action="/console/logout">
<input type="hidden" name="csrf" value="{e(session.csrf_token)}">
<button type="submit" class="link">Sign out</button>
</form>
</header>
<main id="main" tabindex="-1">
<p id="live-status" class="status" role="status" aria-live="polite"></p>
<div id="inbox" class="view inbox"></div>
<div id="refunds" class="view refunds" hidden></div>
<div id="orders" class="view orders" hidden></div>
<div id="insights" class="view insights" hidden></div>
<div id="review" class="view review" hidden></div>
</main>
</body></html>"""
    return web.Response(text=page, content_type="text/html")


async def static(request: web.Request) -> web.FileResponse:
    """Serve the console's scripts and style sheet."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})
