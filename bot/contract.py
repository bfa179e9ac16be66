"""What the action server and the gateway agree on, in one module with no dependencies.

Rasa carries three things between the two processes: the buyer's identity in a message's
``metadata`` (the gateway writes it, the actions read it), the request to bring in a person (a
custom message ``{"handoff": {"reason": ...}}`` an action sends, the gateway acts on), and the
slots an agent may fill when handing a conversation back to the bot. Both sides import them from
here, so neither can drift from the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

#: ``metadata`` key: the customer the channel vouched for (a signed token, a Telegram deep link).
CUSTOMER_ID = "customer_id"
#: ``metadata`` key: the channel the message came in on (``webchat``, ``telegram``).
CHANNEL = "channel"
#: ``metadata`` key: the address the message came from, when the channel knows it (limits).
CLIENT_ADDRESS = "client_address"
#: ``metadata`` key: the conversation's language (``bot.languages``), which the gateway chose.
LANGUAGE = "language"

#: Key of the custom message an action sends to ask for a person.
HANDOFF = "handoff"


class HandoffReason(str, Enum):
    """Why a conversation went to the people."""

    BUYER_ASKED = "buyer_asked"
    REPEATED_FAILURE = "repeated_failure"
    POLICY = "policy"
    AGENT_TOOK_OVER = "agent_took_over"
    MERCHANT_QUESTION = "merchant_question"


def handoff_request(reason: HandoffReason) -> dict[str, Any]:
    """Return the custom message an action sends to hand the conversation to people."""
    return {HANDOFF: {"reason": reason.value}}


def handoff_reason(custom: Any) -> HandoffReason | None:
    """Return the reason of a handoff request, or ``None`` when ``custom`` is not one.

    A request whose reason this version does not know still hands over: as the buyer's wish.
    """
    if not isinstance(custom, Mapping) or not isinstance(custom.get(HANDOFF), Mapping):
        return None
    try:
        return HandoffReason(custom[HANDOFF].get("reason"))
    except ValueError:
        return HandoffReason.BUYER_ASKED


#: The action the gateway runs when an agent hands a conversation back (validates the agent's
#: values, greets when no form is open), and the one it runs when an agent closes it.
HAND_BACK_ACTION = "action_hand_back"
CLOSED_ACTION = "action_conversation_closed"

#: Slots an agent may fill when handing back: what the refund form asks.
AGENT_SLOTS = frozenset({"order_id", "refund_method", "refund_amount", "refund_reason"})
