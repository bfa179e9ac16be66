"""``refundbot nlu parse``: the running Rasa servers' reading of each line, with its language."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.refunds.migrate import upgrade
from tests.commands import refundbot

LINES = [
    "quiero que me devuelvan el dinero del pedido 81234567890123, llego roto",
    "",
    "здравствуйте, хочу вернуть деньги за заказ 81234567890123",
    "Hello, I would like to get my money back for the broken lamp, order 81234567890123",
    "Ich möchte mein Geld für die kaputte Lampe zurück, bitte helfen Sie mir",
]


class ParseDouble:
    """Rasa's ``/model/parse``: answers one intent and the order number it finds."""

    def __init__(self, *, status: int = 200) -> None:
        self.status = status
        self.texts: list[str] = []
        self.tokens: list[str | None] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/model/parse", self._parse)
        return app

    async def _parse(self, request: web.Request) -> web.Response:
        self.tokens.append(request.query.get("token"))
        text = (await request.json())["text"]
        self.texts.append(text)
        if self.status != 200:
            return web.Response(status=self.status, text="model not ready")
        start = text.find("81234567890123")
        entities = (
            [{"entity": "order_id", "value": "81234567890123", "start": start, "end": start + 14}]
            if start >= 0
            else []
        )
        body = {"text": text, "intent": {"name": "request_refund", "confidence": 0.91234}}
        return web.json_response({**body, "entities": entities})


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    upgrade(url)
    return url


async def served(aiohttp_server: Callable[..., Awaitable[TestServer]], double: ParseDouble) -> str:
    server = await aiohttp_server(double.app(), host="127.0.0.1")
    return str(server.make_url("")).rstrip("/")


async def parse(db_url: str, urls: list[str], *args: str) -> Any:
    env = {"REFUNDBOT_RASA_URL": ",".join(urls), "REFUNDBOT_RASA_TOKEN": "secret-token"}
    stdin = "\n".join(LINES) + "\n"
    return await asyncio.to_thread(refundbot, db_url, "nlu", "parse", *args, stdin=stdin, env=env)


async def test_each_line_is_printed_with_its_language_intent_and_entities(
    db_url: str, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    rasa = ParseDouble()
    result = await parse(db_url, [await served(aiohttp_server, rasa)], "--json")

    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == [line for line in LINES if line]
    assert rasa.texts == [line for line in LINES if line]
    assert set(rasa.tokens) == {"secret-token"}
    assert [(r["language"], r["detected"]) for r in rows] == [
        ("es", "es"),
        ("ru", "ru"),
        ("en", "en"),
        ("en", "de"),  # German: detected, answered in the default language
    ]
    assert rows[0]["intent"] == "request_refund"
    assert rows[0]["confidence"] == 0.912
    assert rows[0]["entities"] == [
        {"entity": "order_id", "value": "81234567890123", "start": 45, "end": 59}
    ]
    assert rows[3]["entities"] == []


async def test_text_output_is_one_tab_separated_line_per_message(
    db_url: str, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    result = await parse(db_url, [await served(aiohttp_server, ParseDouble())])

    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0].split("\t")
    assert first == ["es", "es", "request_refund", "0.912", "order_id=81234567890123", LINES[0]]
    assert result.stdout.splitlines()[3].split("\t")[:2] == ["en", "de"]


async def test_a_failing_server_is_passed_over_and_none_running_is_a_clear_error(
    db_url: str, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    broken, working = ParseDouble(status=503), ParseDouble()
    urls = [await served(aiohttp_server, broken), await served(aiohttp_server, working)]
    result = await parse(db_url, urls, "--json")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 4
    assert len(working.texts) == 4

    nothing = await parse(db_url, ["http://127.0.0.1:9"], "--json")
    assert nothing.returncode == 1
    assert "Rasa did not answer" in nothing.stderr
    assert "is the stack running?" in nothing.stderr


async def test_a_missing_model_file_is_refused(db_url: str, tmp_path: Path) -> None:
    result = await parse(db_url, ["http://127.0.0.1:9"], "--model", str(tmp_path / "none.tar.gz"))
    assert result.returncode == 2
    assert "no model at" in result.stderr
