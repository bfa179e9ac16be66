"""The shop API's reference page in Chromium: every operation of the served document laid out."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, ConsoleMessage, expect

pytestmark = [pytest.mark.browser]

METHODS = ("get", "put", "post", "patch", "delete")


def property_names(schema: dict[str, Any]) -> list[str]:
    """The names a reader must find for ``schema``: its fields and those of its items."""
    names = list(schema.get("properties", {}))
    for child in schema.get("properties", {}).values():
        names += property_names(child.get("items", {}))
    return names


async def test_every_operation_of_the_document_is_rendered(
    browser: Browser, gateway_server: TestServer
) -> None:
    base = str(gateway_server.make_url("/"))
    page = await browser.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # A script or style the policy refused shows up here; the browser's own favicon request
        # (the gateway has none) does too.
        if message.type in ("error", "warning") and "favicon" not in message.location["url"]:
            problems.append(f"{message.text} ({message.location['url']})")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    document: dict[str, Any] = await (await page.request.get(base + "api/v1/openapi.json")).json()

    await page.goto(base + "api/v1/docs")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        f"{document['info']['title']} — version {document['info']['version']}"
    )
    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(operations) == 15
    await expect(
        page.get_by_role("navigation", name="Operations").get_by_role("link")
    ).to_have_count(len(operations))
    for method, path, operation in operations:
        section = page.get_by_role("region", name=f"{method.upper()} {path}", exact=True)
        await expect(section).to_be_visible()
        await expect(section.locator(".summary")).to_have_text(operation["summary"])
        [requirement] = operation["security"]
        await expect(section.locator(".scope code")).to_have_text(requirement["apiKey"][0])
        parameters = section.get_by_role("table", name="Parameters")
        for parameter in operation["parameters"]:
            await expect(parameters).to_contain_text(parameter["name"])
        if "requestBody" in operation:
            [body] = operation["requestBody"]["content"].values()
            fields = section.locator(".content").first.locator("code.name")
            assert set(property_names(body["schema"])) <= set(await fields.all_text_contents())
        statuses = section.locator(".responses dt .status")
        await expect(statuses).to_have_text(sorted(operation["responses"]))

    # Fields below the first level are folded, named in the summary that opens them.
    order = page.get_by_role("region", name="PUT /api/v1/orders/{order_id}", exact=True)
    request = order.locator(".content").first
    await expect(request.get_by_text("unit_price", exact=True)).to_be_hidden()
    await request.get_by_text("4 field(s): sku, title, quantity, unit_price").click()
    await expect(request.get_by_text("unit_price", exact=True)).to_be_visible()

    # A shared schema is a link to its own section, where its fields are listed.
    problem = page.get_by_role("region", name="GET /api/v1/orders/{order_id}", exact=True)
    await problem.get_by_role("link", name="Problem").first.click()
    await expect(page).to_have_url(base + "api/v1/docs#schema-Problem")
    shared = page.get_by_role("region", name="Problem", exact=True)
    await expect(shared.locator("code.name")).to_contain_text(["type", "title", "status"])
    webhook = page.get_by_role("region", name="POST event", exact=True)
    await expect(webhook).to_contain_text("No API key needed.")
    await expect(webhook).to_contain_text("Refundbot-Signature")
    assert problems == []
    await page.close()
