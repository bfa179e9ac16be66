"""``refundbot shell``: chat with the running assistant in the terminal, as a chosen customer."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any

from bot.settings import Settings


def send(settings: Settings, sender: str, text: str, customer_id: str | None) -> list[Any]:
    """Send one message through Rasa's REST channel and return the bot's replies."""
    metadata = {"channel": "shell", **({"customer_id": customer_id} if customer_id else {})}
    body = json.dumps({"sender": sender, "message": text, "metadata": metadata}).encode()
    request = urllib.request.Request(
        f"{settings.rasa_url}/webhooks/rest/webhook",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        replies: list[Any] = json.loads(response.read())
    return replies


def chat(settings: Settings, *, customer_id: str | None) -> int:
    """Read lines from the terminal until EOF or /quit; a number presses that button."""
    sender = f"shell-{uuid.uuid4().hex[:12]}"
    who = f"customer {customer_id}" if customer_id else "an anonymous buyer"
    print(f"Chatting as {who}. Type /quit to leave; type a button's number to press it.")
    buttons: list[dict[str, str]] = []
    while True:
        try:
            text = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if text in ("/quit", "/exit"):
            return 0
        if not text:
            continue
        if text.isdigit() and 0 < int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            replies = send(settings, sender, text, customer_id)
        except (urllib.error.URLError, OSError) as e:
            print(f"refundbot: the assistant is not reachable at {settings.rasa_url} ({e}).")
            print("Start it with `make run` in another terminal.", file=sys.stderr)
            continue
        buttons = []
        for reply in replies:
            if reply.get("text"):
                print(f"bot> {reply['text']}")
            for button in reply.get("buttons") or []:
                buttons.append(button)
                print(f"     [{len(buttons)}] {button['title']}")
