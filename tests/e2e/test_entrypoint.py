from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import aiohttp

from tests.gateway.doubles import SHOP_SECRET, RasaDouble


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_python_m_bot_gateway_serves_the_shop_and_health(
    tmp_path: Path, rasa: RasaDouble
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "REFUNDBOT_VAR_DIR": str(tmp_path / "var"),
        "REFUNDBOT_PORT": str(port),
        "REFUNDBOT_RASA_URL": rasa.url,
        "REFUNDBOT_ACTION_SERVER_URL": f"{rasa.url}/webhook",
        "REFUNDBOT_SHOP_SECRET": SHOP_SECRET,
        "REFUNDBOT_DEMO_SHOP": "true",
    }
    env.pop("REFUNDBOT_DATABASE_URL", None)
    env.pop("REFUNDBOT_TELEGRAM_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.gateway",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), 30)
        while b"http://" not in banner:
            banner = await asyncio.wait_for(process.stdout.readline(), 30)
        assert f"http://127.0.0.1:{port}/".encode() in banner
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/health") as response:
                        health = json.loads(await response.text())
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            assert health["status"] == "ok", health
            async with http.get(f"http://127.0.0.1:{port}/") as response:
                assert response.status == 200
                assert "widget.js" in await response.text()
            # A widget still connected does not hold up a stop.
            async with http.ws_connect(f"http://127.0.0.1:{port}/webchat/ws") as ws:
                await ws.send_json({"type": "hello"})
                assert (await ws.receive_json())["type"] == "welcome"
                process.terminate()
                await asyncio.wait_for(process.wait(), 5)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    assert (tmp_path / "var" / "refundbot.db").exists()
