"""Whole conversations with the trained model; each checks what the refund store holds after."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import sessionmaker

from bot.refunds import store
from tests.conversation.conftest import Buyer
from tests.conversation.replies import buttons

pytestmark = pytest.mark.rasa

LAMP = "8041235566701234"  # Ana, delivered 3 days ago, 42.50
PHONE_CASE = "8041235566709876"  # Ana, awaiting shipment, 18.90
SPEAKER = "8041235566705555"  # Ana, shipped, on time, 64.00
YOGA_MAT = "8041235566702222"  # Ana, delivered 40 days ago, 35.00
EARBUDS = "8041235566703333"  # Ana, shipped, late past the promised date, 27.80
GRINDER = "8041235566704444"  # Ben, not shipped by ship_by, 55.00
T_SHIRTS = "8041235566706666"  # Ben, 10.00 of 30.00 already refunded
CABLE = "8041235566707777"  # Ben, delivered, 12.00


def applications(sessions: sessionmaker, order_id: str) -> list[tuple[str, str, Decimal, str]]:
    with sessions.begin() as session:
        return [
            (a.method, a.status, a.amount, a.reason)
            for a in store.list_applications(session, order_id=order_id)
        ]


async def test_return_and_refund_of_a_delivered_order(
    buyer: Buyer, demo_sessions: sessionmaker
) -> None:
    replies = await buyer.say(f"hi, I'd like a refund for the desk lamp from order {LAMP}")
    offered = buttons(replies)
    assert "Immediate refund isn't available: this order has already shipped." in replies[0]["text"]
    assert set(offered) == {"No-return refund (up to 20.00 USD)", "Return and refund"}

    replies = await buyer.say(offered["Return and refund"])
    assert "Up to 42.50 USD can be refunded" in replies[0]["text"]
    replies = await buyer.say("all of it")
    assert "What is the problem with the item?" in replies[0]["text"]
    await buyer.say(buttons(replies)["Damaged"])
    readback = await buyer.texts("The base of the lamp arrived cracked and the lamp wobbles")
    assert f"• Order: {LAMP} (Desk lamp)" in readback
    assert "• Method: Return and refund" in readback
    assert "• Amount: 42.50 USD" in readback
    assert "• Reason: damaged: The base of the lamp arrived cracked" in readback

    answer = await buyer.texts("yes")
    assert "waiting for the merchant's review" in answer
    [(method, status, amount, reason)] = applications(demo_sessions, LAMP)
    assert (method, status, amount) == ("return_and_refund", "pending_review", Decimal("42.50"))
    assert reason == "The base of the lamp arrived cracked and the lamp wobbles"
    assert "RF-" in answer

    # A second "yes" (a double tap) stores nothing more.
    await buyer.say("yes")
    assert len(applications(demo_sessions, LAMP)) == 1


async def test_immediate_refund_before_shipping_with_everything_up_front(
    buyer: Buyer, demo_sessions: sessionmaker
) -> None:
    # Order, method, amount and reason in one message: nothing is asked, the read-back comes.
    readback = await buyer.texts(
        f"please cancel order {PHONE_CASE} and refund $10 right away, I ordered the wrong colour"
    )
    assert "• Reason: I ordered the wrong colour" in readback
    assert "• Method: Immediate refund" in readback
    assert "• Amount: 10.00 USD" in readback
    answer = await buyer.texts("yes please")
    assert "approved and 10.00 USD is on its way back to you" in answer
    [(method, status, amount, _)] = applications(demo_sessions, PHONE_CASE)
    assert (method, status, amount) == ("immediate_refund", "refunded", Decimal("10.00"))


async def test_late_parcel_is_refunded_without_return_plus_compensation(
    buyer: Buyer, demo_sessions: sessionmaker
) -> None:
    replies = await buyer.say(f"my earbuds never arrived, order {EARBUDS}, I want my money back")
    assert "late past its promised delivery date" in replies[0]["text"]
    await buyer.say(buttons(replies)["No-return refund"])
    await buyer.say("everything")
    readback = await buyer.texts("the parcel never came")
    assert "• Compensation: 2.78 USD" in readback
    answer = await buyer.texts("yes")
    assert "plus 2.78 USD compensation" in answer
    [(method, status, amount, _)] = applications(demo_sessions, EARBUDS)
    assert (method, status, amount) == ("no_return_refund", "refunded", Decimal("27.80"))


async def test_another_buyers_order_is_not_found(buyer: Buyer, demo_sessions: sessionmaker) -> None:
    answer = await buyer.texts(f"I need a refund for order {CABLE}")
    assert f"couldn't find order {CABLE} among your orders" in answer
    assert applications(demo_sessions, CABLE) == []


async def test_amount_over_the_balance_then_a_person_is_offered(buyer: Buyer) -> None:
    await buyer.say(f"refund for order {SPEAKER} please")
    replies = await buyer.say('/inform{"refund_method":"no_return_refund"}')
    assert "Up to 20.00 USD can be refunded with a no-return refund" in replies[0]["text"]
    first = await buyer.texts("50 dollars")
    assert "No-return refund is limited to 20.00 USD" in first
    second = await buyer.texts("$45")
    assert "I'm asking a person from our support team" in second


async def test_leave_the_form_and_nothing_is_stored(
    buyer: Buyer, demo_sessions: sessionmaker
) -> None:
    await buyer.say(f"I want a refund for {YOGA_MAT}")
    answer = await buyer.texts("stop")
    assert "Nothing was submitted" in answer
    assert applications(demo_sessions, YOGA_MAT) == []


async def test_a_question_mid_form_is_answered_and_the_form_goes_on(buyer: Buyer) -> None:
    await buyer.say("I'd like a refund")
    answer = await buyer.texts("how many days do I have to return something?")
    assert "15 days after delivery" in answer
    assert "What is the order number?" in answer


async def test_refund_status_and_withdrawal(make_buyer, demo_sessions: sessionmaker) -> None:
    ben = make_buyer("c-1002")
    status = await ben.texts("where is my refund?")
    assert f"for order {T_SHIRTS}" in status
    assert "refunded" in status

    await ben.say(f"I want a refund for {CABLE}")
    await ben.say('/inform{"refund_method":"return_and_refund"}')
    await ben.say("half")
    await ben.say('/inform{"refund_reason_category":"quality_problem"}')
    await ben.say("the cable stopped charging my phone after one day")
    await ben.say("yes")
    [(_, status_before, amount, _)] = applications(demo_sessions, CABLE)
    assert (status_before, amount) == ("pending_review", Decimal("6.00"))

    confirm = await ben.texts("I want to cancel my refund request")
    assert "Withdraw application" in confirm
    done = await ben.texts("yes")
    assert "is withdrawn" in done
    [(_, status_after, _, _)] = applications(demo_sessions, CABLE)
    assert status_after == "withdrawn"


async def test_anonymous_buyer_checks_an_order_with_its_email(make_buyer) -> None:
    anonymous = make_buyer(None)
    asked = await anonymous.texts("where is my package?")
    assert "order number" in asked
    asked = await anonymous.texts(GRINDER)
    assert "e-mail" in asked
    wrong = await anonymous.texts("someone@example.com")
    assert "couldn't find order" in wrong
    await anonymous.texts(GRINDER)
    answer = await anonymous.texts("ben@example.com")
    assert f"Order {GRINDER}" in answer
    assert "waiting to be shipped" in answer


async def test_small_talk_and_things_out_of_scope(buyer: Buyer) -> None:
    assert "refund assistant" in await buyer.texts("hello there")
    assert "I'm a bot" in await buyer.texts("am I talking to a real person?")
    assert "I can only help with orders and refunds" in await buyer.texts(
        "what's the weather like in Paris tomorrow?"
    )
    assert "You're welcome" in await buyer.texts("thanks a lot")
    assert "Goodbye" in await buyer.texts("bye")


async def test_asking_for_a_person_signals_the_gateway(buyer: Buyer) -> None:
    replies = await buyer.say("I want to speak to a human agent")
    assert replies[0]["text"] == "Okay, I'll bring in a person from our support team."
    assert replies[1]["custom"] == {"handoff": {"reason": "buyer_asked"}}


async def test_change_the_amount_at_the_read_back(
    buyer: Buyer, demo_sessions: sessionmaker
) -> None:
    await buyer.say(f"I'd like to keep the speaker from order {SPEAKER} and get some money back")
    await buyer.say("15 dollars")
    readback = await buyer.texts("the sound crackles a bit")
    assert "• Amount: 15.00 USD" in readback
    readback = await buyer.texts("actually make it $12")
    assert "• Amount: 12.00 USD" in readback
    assert "Shall I submit it?" in readback
    await buyer.say("yes")
    [(method, status, amount, _)] = applications(demo_sessions, SPEAKER)
    assert (method, status, amount) == ("no_return_refund", "refunded", Decimal("12.00"))


async def test_not_shipped_in_time_is_refunded_in_full_with_compensation(
    make_buyer, demo_sessions: sessionmaker
) -> None:
    ben = make_buyer("c-1002")
    replies = await ben.say(f"order {GRINDER} still hasn't shipped, I want to cancel it")
    assert "wasn't shipped by the promised date" in replies[0]["text"]
    # "still hasn't shipped" is the reason, said up front.
    readback = await ben.texts("all of it")
    assert "• Reason: still hasn't shipped" in readback
    assert "• Method: Immediate refund" in readback
    assert "• Compensation: 5.50 USD" in readback
    await ben.say("yes")
    [(method, status, amount, _)] = applications(demo_sessions, GRINDER)
    assert (method, status, amount) == ("immediate_refund", "refunded", Decimal("55.00"))


async def test_anonymous_buyer_proves_the_order_and_applies(
    make_buyer, demo_sessions: sessionmaker
) -> None:
    jacket = "8041235566700001"  # Chen, delivered yesterday, 120.00 EUR
    anonymous = make_buyer(None)
    asked = await anonymous.texts(f"hello, I need to send back the jacket from order {jacket}")
    assert "e-mail address on the order" in asked
    await anonymous.say("chen@example.com")
    wrong_currency = await anonymous.texts("60 usd")
    assert "paid in EUR" in wrong_currency
    await anonymous.say("60 eur")
    await anonymous.say('/inform{"refund_reason_category":"wrong_item"}')
    readback = await anonymous.texts("I ordered a black jacket in size M and got a red one in L")
    assert "• Amount: 60.00 EUR" in readback
    await anonymous.say("yes")
    with demo_sessions.begin() as session:
        [application] = store.list_applications(session, order_id=jacket)
        assert (application.customer_id, application.method, application.amount) == (
            "c-1003",
            "return_and_refund",
            Decimal("60.00"),
        )
