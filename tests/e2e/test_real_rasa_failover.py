"""Two real Rasa servers on one SQLite tracker file: a form half-filled on one goes on on the other.

What ``refundbot run --rasa-workers 2`` starts (:func:`bot.run.services`), with the trained
model: the conversation's home server is killed mid-form, and the other one carries the form on
from the shared tracker store.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import aiohttp
import pytest

from bench.accounts import DEMO_ORDERS
from bench.stack import Stack, running_stack
from bot import contract
from bot.gateway.rasa import RasaClient, ranking
from tests.conftest import require
from tests.e2e.realstack import MODELS

pytestmark = pytest.mark.rasa

LAMP = DEMO_ORDERS["LAMP"]


@pytest.fixture(scope="module")
def two_rasa() -> Iterator[Stack]:
    model = next((m for m in MODELS if m.name and m.is_file()), None)
    require(model is not None, "no trained model: run `make train`")
    assert model is not None
    with running_stack(model, only=("actions", "rasa", "rasa-2"), rasa_workers=2) as stack:
        yield stack


def _urls(stack: Stack) -> list[str]:
    port = int(stack.rasa_url.rsplit(":", 1)[1])
    return [stack.rasa_url, f"http://127.0.0.1:{port + 1}"]


async def test_a_message_sent_again_under_its_name_is_answered_as_before_on_either_server(
    two_rasa: Stack,
) -> None:
    # The gateway stopped after Rasa answered, before it recorded the answer: it sends the
    # message again, under the same name, to whichever server the conversation has now.
    first, other = _urls(two_rasa)
    cid = "web-named-turns"
    metadata = {contract.CHANNEL: "webchat", contract.CUSTOMER_ID: "c-1001"}
    said = f"I want a refund for order {LAMP}"
    async with aiohttp.ClientSession() as http:
        home = RasaClient(http, [first], timeout_seconds=60, token=two_rasa.rasa_token)
        away = RasaClient(http, [other], timeout_seconds=60, token=two_rasa.rasa_token)
        replies = await home.send(cid, said, metadata, message_id="41-20261202")
        assert replies, "the first server answered"
        events = len((await home.tracker(cid))["events"])

        assert await away.send(cid, said, metadata, message_id="41-20261202") == replies
        assert await home.send(cid, said, metadata, message_id="41-20261202") == replies
        tracker = await away.tracker(cid)
        assert len(tracker["events"]) == events, "nothing was added to the conversation"
        assert tracker["slots"]["order_id"] == LAMP

        # The same words under a new name are a new message: the form takes them again.
        await away.send(cid, said, metadata, message_id="42-20261202")
        users = [e for e in (await home.tracker(cid))["events"] if e["event"] == "user"]
        assert [(e["text"], e["message_id"]) for e in users[-2:]] == [
            (said, "41-20261202"),
            (said, "42-20261202"),
        ]


async def test_a_form_goes_on_on_the_other_server_when_its_home_dies(two_rasa: Stack) -> None:
    urls = _urls(two_rasa)
    cid = next(
        f"web-failover-{i}" for i in range(100) if ranking(urls, f"web-failover-{i}")[0] == urls[0]
    )
    metadata = {contract.CHANNEL: "webchat", contract.CUSTOMER_ID: "c-1001"}
    async with aiohttp.ClientSession() as http:
        client = RasaClient(http, urls, timeout_seconds=60, token=two_rasa.rasa_token)
        replies = await client.send(cid, f"I want a refund for order {LAMP}", metadata)
        assert replies, "the home server answered"
        before = await client.tracker(cid)
        assert before["slots"]["order_id"] == LAMP
        form = (before.get("active_loop") or {}).get("name")
        assert form

        [home] = [p for p in two_rasa.processes if p.name == "rasa"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(home.pid, signal.SIGKILL)
        home.popen.wait(30)

        after = await client.tracker(cid)  # from the other server, off the same tracker file
        assert after["slots"]["order_id"] == LAMP
        assert (after.get("active_loop") or {}).get("name") == form
        answer = await client.send(cid, "all of it, the lamp arrived broken", metadata)
        assert answer, "the other server answered the next turn"
        assert client.order(cid)[0] == urls[1]
        later = await client.tracker(cid)
        users = [e["text"] for e in later["events"] if e["event"] == "user"]
        assert users[-2:] == [
            f"I want a refund for order {LAMP}",
            "all of it, the lamp arrived broken",
        ]
