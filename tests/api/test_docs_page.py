"""The API reference page: served without a key, as a page with the console's security headers."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.api.docs import STATIC_DIR
from bot.gateway.pages import SECURITY_HEADERS
from tests.api.helpers import problem


async def test_the_reference_page_and_its_files_are_served_without_a_key(
    gateway: TestClient,
) -> None:
    page = await gateway.get("/api/v1/docs")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert page.charset == "utf-8"
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    html = await page.text()
    assert 'data-document="/api/v1/openapi.json"' in html
    assert '<script src="/api/v1/docs/docs.js" defer></script>' in html
    assert "<script>" not in html  # no inline script: the policy would refuse it

    for name, content_type in (("docs.js", "javascript"), ("docs.css", "text/css")):
        served = await gateway.get(f"/api/v1/docs/{name}")
        assert served.status == 200
        assert content_type in served.content_type
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert await served.read() == (STATIC_DIR / name).read_bytes()


async def test_nothing_else_is_served_from_the_pages_folder(gateway: TestClient) -> None:
    for name in ("docs.py", "..%2Fdocs.py", "%2E%2E%2Fproblems.py", "missing.js"):
        await problem(await gateway.get(f"/api/v1/docs/{name}"), 404)


def test_the_script_builds_the_page_from_text_nodes_only() -> None:
    # Every string of the document reaches the page as text: never parsed as HTML.
    script = (STATIC_DIR / "docs.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
