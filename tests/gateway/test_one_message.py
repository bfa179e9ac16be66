"""A refusal and the question that follows it reach the buyer as one message."""

from __future__ import annotations

from bot.contract import HandoffReason
from bot.gateway.rasa import BotReply, one_message_per_turn
from bot.gateway.transcript import Button

ASK = BotReply(
    text="How much would you like back? Up to 42.50 USD can be refunded.",
    buttons=(Button(title="All of it (42.50 USD)", payload="/inform"),),
)


def test_a_refusal_joins_the_question_after_it_with_the_questions_buttons() -> None:
    [one] = one_message_per_turn([BotReply(text="The amount can't be negative."), ASK])
    assert one.text == f"The amount can't be negative.\n\n{ASK.text}"
    assert one.buttons == ASK.buttons


def test_messages_with_buttons_images_or_a_handoff_stay_apart() -> None:
    handoff = BotReply(text=None, custom={"handoff": {}}, handoff=HandoffReason.BUYER_ASKED)
    image = BotReply(text="Here it is", image="https://shop.example/lamp.png")
    replies = [ASK, BotReply(text="Okay, I'll bring in a person."), handoff, image, ASK]
    assert one_message_per_turn(replies) == replies
