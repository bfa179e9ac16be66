"""The REST channel the gateway talks to, as Rasa runs it (``credentials.yml``).

It is Rasa's REST channel (``/webhooks/rest/webhook``, the same requests and answers) with one
difference: a turn that failed is answered ``503``, never ``200`` with what was said before the
failure. Rasa's own channel logs the failure and answers ``200``, so the gateway would mark the
buyer's message answered and lose it. Together with :mod:`bot.rasa_server`, which makes an
unreachable action server fail the turn before the tracker is saved, the gateway can keep the
message and send it again later.

A request may name its message (``message_id``, as the gateway does with each): a message the
conversation already holds is answered with what was said after it then, and not made again
(:class:`TurnAlreadyMade`, raised by :mod:`bot.rasa_server`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class TurnAlreadyMade(Exception):
    """The tracker already holds this buyer's message: the turn is not made again.

    ``said`` is what the bot said after it then, as the channel answers it. (It is defined
    here, where it is caught: Rasa runs :mod:`bot.rasa_server` as ``__main__``, whose own
    classes are not the ones another module would import from it.)
    """

    def __init__(self, message_id: str, said: list[dict[str, Any]]) -> None:
        super().__init__(f"message {message_id} was answered before")
        self.said = said


#: The longest ``message_id`` a request may name its message with.
MESSAGE_ID_MAX_CHARS = 64


async def answer(on_new_message: OnNewMessage, message: UserMessage) -> tuple[int, Any]:
    """Handle one message; return the HTTP status and body of the answer.

    ``message`` collects the bot's replies in a :class:`CollectingOutputChannel`.
    """
    assert isinstance(message.output_channel, CollectingOutputChannel)
    try:
        await on_new_message(message)
    except TurnAlreadyMade as e:
        log.info("%s (%s): answered with what was said then", e, message.sender_id)
        return 200, e.said
    except Exception as e:
        log.warning("turn of %s failed, to be retried: %r", message.sender_id, e)
        return 503, {"error": "the turn failed; send the message again later"}
    return 200, message.output_channel.messages


class RestChannel(RestInput):
    """Rasa's REST channel, answering ``503`` for a turn that failed."""

    @classmethod
    def name(cls) -> str:
        """Keep Rasa's REST channel's address: ``/webhooks/rest/webhook``."""
        return "rest"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Return the channel's routes: a health check and the webhook."""
        webhook = Blueprint("refundbot_rest_webhook", __name__)

        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def receive(request: Request) -> HTTPResponse:
            message = UserMessage(
                self._extract_message(request),
                CollectingOutputChannel(),
                await self._extract_sender(request),
                input_channel=self._extract_input_channel(request),
                metadata=self.get_metadata(request),
                message_id=message_id_of(request),
            )
            status, body = await answer(on_new_message, message)
            return response.json(body, status=status)

        webhook.add_route(health, "/", methods=["GET"])
        webhook.add_route(receive, "/webhook", methods=["POST"])
        return webhook


def message_id_of(request: Request) -> str | None:
    """Return the name the request gives its message, if it gives a usable one."""
    named = request.json.get("message_id") if isinstance(request.json, dict) else None
    if isinstance(named, str) and 0 < len(named) <= MESSAGE_ID_MAX_CHARS:
        return named
    return None
