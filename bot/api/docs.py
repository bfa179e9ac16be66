"""The shop API's reference page: ``/api/v1/docs`` renders ``/api/v1/openapi.json`` in a browser.

The page is a shell; its script (``static/docs.js``, no library) reads the document the
gateway serves and lays out every operation. Like the document, it needs no key: it shows
what the API takes and answers, nothing of a shop's data.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.api.problems import PREFIX
from bot.gateway.pages import SECURITY_HEADERS

STATIC_DIR = Path(__file__).resolve().parent / "static"
PATH = PREFIX + "/docs"
FILES = ("docs.js", "docs.css")

_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop API reference — refundbot</title>
<link rel="stylesheet" href="{PATH}/docs.css">
<script src="{PATH}/docs.js" defer></script>
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><h1 id="title">Shop API reference</h1>
<p>Generated from <a href="{PREFIX}/openapi.json">{PREFIX}/openapi.json</a>
(OpenAPI 3.1), the schemas the API checks requests with.</p></header>
<div class="layout">
<nav id="contents" aria-label="Operations"></nav>
<main id="main" tabindex="-1" data-document="{PREFIX}/openapi.json">
<p id="loading" role="status">Loading the API description…</p>
<noscript><p>This page needs JavaScript; the document itself is
<a href="{PREFIX}/openapi.json">{PREFIX}/openapi.json</a>.</p></noscript>
</main>
</div>
</body></html>"""


def setup(app: web.Application) -> None:
    """Add the reference page and its files to the gateway app."""
    app.router.add_get(PATH, page)
    app.router.add_get(PATH + "/{name}", static)


async def page(_: web.Request) -> web.Response:
    """Serve the reference page; its script fetches and renders the document."""
    return web.Response(text=_PAGE, content_type="text/html", headers=SECURITY_HEADERS)


async def static(request: web.Request) -> web.FileResponse:
    """Serve the page's script or style sheet."""
    name = request.match_info["name"]
    if name not in FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC_DIR / name, headers=SECURITY_HEADERS)
