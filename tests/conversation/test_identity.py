"""Anonymous buyers prove an order with its e-mail, with the trained model: guessing is limited."""

from __future__ import annotations

import pytest

from tests.conversation.replies import buttons

pytestmark = pytest.mark.rasa

NOBODYS = "8041235566790001"  # no such order
CANCELLED = "8041235566708888"  # Chen (chen@example.com), cancelled; no other test guesses it


async def test_wrong_emails_again_and_again_bring_in_a_person(make_buyer) -> None:
    anonymous = make_buyer(None)
    assert "order number" in await anonymous.texts("where is my package?")
    for n in range(3):
        assert "e-mail" in await anonymous.texts(NOBODYS)
        replies = await anonymous.say(f"guess{n}@example.com")
    texts = [r.get("text") or "" for r in replies]
    assert f"I couldn't find order {NOBODYS} with that e-mail address" in texts[0]
    assert "I'm asking a person from our support team" in texts[1]
    assert {"handoff": {"reason": "repeated_failure"}} in [r.get("custom") for r in replies]


async def test_a_paused_order_refuses_even_the_right_email(make_buyer) -> None:
    for n in range(5):
        guesser = make_buyer(None, f"-guesser{n}")
        await guesser.say("has my order shipped?")
        assert "e-mail" in await guesser.texts(CANCELLED)
        answer = await guesser.texts(f"guess{n}@example.com")
        assert f"couldn't find order {CANCELLED} with that e-mail" in answer
    assert f"checks for order {CANCELLED} are paused for about 60 minutes" in answer

    owner = make_buyer(None, "-owner")
    await owner.say("where is my order?")
    replies = await owner.say(f"order {CANCELLED}, my e-mail is chen@example.com")
    answer = "\n".join(r.get("text") or "" for r in replies)
    assert f"checks for order {CANCELLED} are paused" in answer
    assert "cancelled" not in answer
    assert "What is the order number?" in answer
    offered = buttons(replies)
    assert offered == {"Talk to a person": "/human_handoff"}

    replies = await owner.say(offered["Talk to a person"])
    assert replies[0]["text"] == "Okay, I'll bring in a person from our support team."
    assert replies[1]["custom"] == {"handoff": {"reason": "buyer_asked"}}
