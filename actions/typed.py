"""What a typed answer picks when it names nothing directly: "that one", "the second", "yes".

The refund form's extraction calls these; they read the buyer's words and the tracker only.
"""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.common import is_answering, language_of, latest_intent, latest_text
from bot.languages import DEFAULT
from bot.refunds import policy, reading
from bot.refunds.enums import RefundMethod
from bot.refunds.errors import AmountError, ReasonError
from bot.refunds.words import readable


def choose_offered(
    said: str, intent: str | None, offered: list[RefundMethod], language: str = DEFAULT
) -> RefundMethod | None:
    """Return the offered method an answer without a method's name picks, if it picks one.

    The only method offered is picked by "yes", "ok", "that one" or "all of it"; among
    several, "the first one", "the second" or "the last one" pick by position.
    """
    if not offered:
        return None
    tables = readable(language)
    if len(offered) == 1 and (
        intent == "affirm"
        or any(w.affirmative.search(said) for w in tables)
        or reading.names_everything(said, language)
    ):
        return offered[0]
    for w in tables:
        for index, pattern in enumerate(w.ordinals):
            if pattern.search(said) and index < len(offered):
                return offered[index]
    if any(w.last.search(said) for w in tables):
        return offered[-1]
    return None


def reads_as_a_request(said: str, language: str = DEFAULT) -> bool:
    """Return True when the words ask for a refund, not about one (no status question).

    "Refund for the watch strap 9000…", "quiero un reembolso del pedido 9000…". A question is
    about refunds in general unless it names the order ("can I get my money back for the usb
    cable 9000…?").
    """
    tables = readable(language)
    return (
        ("?" not in said or reading.find_order_id(said) is not None)
        and any(w.request.search(said) or w.request_later.search(said) for w in tables)
        and not any(w.status_question.search(said) for w in tables)
    )


def asks_for_a_refund(tracker: Tracker) -> bool:
    """Return True when the latest message starts the refund: everything in it is read."""
    starting = tracker.get_slot("requested_slot") is None
    return latest_intent(tracker) == "request_refund" or (
        starting
        and (
            latest_intent(tracker) == "inform"
            or reads_as_a_request(latest_text(tracker), language_of(tracker))
            or asks_about_the_order_in_focus(tracker)
        )
    )


def asks_about_the_order_in_focus(tracker: Tracker) -> bool:
    """Return True for "so can I send it back for a refund?" while the chat is about an order.

    The order is the conversation's (an agent handed back with it): asking whether a method is
    possible for it is asking for it.
    """
    said = latest_text(tracker)
    language = language_of(tracker)
    tables = readable(language)
    return (
        bool(tracker.get_slot("order_id"))
        and any(w.can_i.search(said) for w in tables)
        and any(w.refund_asked.search(said) for w in tables)
        and reading.method_from_text(said, language) is not None
    )


def describes_enough(reason: str, method: RefundMethod | None) -> bool:
    """Return True when ``reason`` is enough for ``method`` (for any method, when unknown)."""
    try:
        policy.check_reason(method or RefundMethod.RETURN_AND_REFUND, reason)
    except ReasonError:
        return False
    return True


def only_asks_to_stop(said: str, language: str = DEFAULT) -> bool:
    """Return True when the message only asks to stop ("stop", "olvídalo", "хватит").

    Anything longer that NLU took for "stop" may be a reason ("I don't need it any more", "it
    is taking far too long").
    """
    return any(w.explicit_stop.search(said) for w in readable(language))


def plainly_answers(tracker: Tracker, slot: str) -> bool:
    """Return True when the message answers the question for ``slot`` by its words alone.

    "ok then the maximum" at the amount question, "the sleeve frays" at the problem question:
    the words answer, whatever intent NLU read. A question ("…?"), a button's payload, or a plain
    request to stop is not such an answer.
    """
    said = latest_text(tracker)
    language = language_of(tracker)
    if tracker.get_slot("requested_slot") != slot or not said or said.startswith("/"):
        return False
    if "?" in said or only_asks_to_stop(said, language) or reading.find_order_id(said):
        return False
    if slot == "refund_method":
        return reading.method_from_text(said, language) is not None
    if slot == "refund_reason_category":
        return reading.classify_reason(said, language) is not None
    if slot == "refund_amount":
        try:
            reading.parse_amount(said, language)
        except AmountError:
            return False
        return len(said) <= 80
    return False


def answers(tracker: Tracker, slot: str) -> bool:
    """Return True when the message answers the question for ``slot``, as NLU read it or by words.

    See :func:`actions.common.is_answering` and :func:`plainly_answers`.
    """
    return is_answering(tracker, slot) or plainly_answers(tracker, slot)


def corrects_amount(said: str, language: str = DEFAULT) -> bool:
    """Return True when ``said`` corrects the amount ("actually make it 10 dollars")."""
    tables = readable(language)
    return any(w.correction.search(said) for w in tables) and (
        reading.money_in_passing(said, language) is not None
        or reading.number_from_words(said, language) is not None
        or any(w.corrected_number.search(said) for w in tables)
    )
