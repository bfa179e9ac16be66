"""The gateway's JSON log lines carry the conversation a turn belongs to."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestClient

from bot.gateway import keys
from bot.messages import text
from bot.observability import logs
from bot.observability.logs import JsonFormatter
from bot.settings import ConfigError, Settings
from tests.gateway.doubles import RasaDouble, wait_until
from tests.gateway.webchat_client import bot_text, hello


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What ``REFUNDBOT_LOG_FORMAT=json`` writes, caught beside pytest's own handlers."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


async def test_a_turns_log_lines_name_its_conversation(
    gateway: TestClient, rasa: RasaDouble, json_lines: io.StringIO
) -> None:
    rasa.down = True
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "message", "text": "anyone there?", "client_id": "m1"})
    assert (await bot_text(ws))["text"] == text("unavailable")
    await wait_until(lambda: rasa.refused >= 1, what="a refused call")
    rasa.down = False
    assert (await bot_text(ws))["text"] == "You said: anyone there?"
    await gateway.app[keys.ROUTER].idle()
    await ws.close()

    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    unavailable = [line for line in lines if line["message"].startswith("Rasa unavailable")]
    assert unavailable
    (conversation_id,) = {line["conversation_id"] for line in unavailable}
    assert conversation_id in unavailable[0]["message"]
    assert unavailable[0]["level"] == "WARNING"
    assert unavailable[0]["logger"] == "bot.gateway.router"
    assert unavailable[0]["time"].endswith("+00:00")


def test_lines_outside_a_conversation_have_none_and_tracebacks_stay_on_one_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.observability.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed: %s", "x")
        with logs.conversation("conv-9"):
            logger.info("inside")
        logger.info("after")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    failed, inside, after = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (failed["message"], failed["level"]) == ("failed: x", "ERROR")
    assert "ValueError: boom" in failed["exception"]
    assert "conversation_id" not in failed
    assert inside["conversation_id"] == "conv-9"
    assert "conversation_id" not in after


def test_the_log_format_is_text_unless_set_to_json() -> None:
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"REFUNDBOT_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="REFUNDBOT_LOG_FORMAT"):
        Settings.from_env({"REFUNDBOT_LOG_FORMAT": "xml"})
