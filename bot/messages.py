"""Every sentence a buyer can see that Python makes, in one catalogue with named placeholders.

Rasa's own answers are the responses in ``domain.yml``; everything else a buyer reads comes from
here: the gateway's notices (one moment, handoff, status changes, evidence, channel errors) and
the parts the actions compose (order and application lines, the method question, the
read-back). Code never builds a buyer's sentence with an f-string: it calls :func:`text` with a
key and the placeholders' values, and ``tests/test_messages.py`` checks every call against the
catalogue.

``MESSAGES`` is English, the source; every other language's sentences, under the same keys with
the same placeholders, are read once from ``languages/<code>/messages.yml`` (:mod:`bot.catalogue`).
Amounts, dates and sizes are written the language's way with Babel's locale data; English keeps
the project's own forms (``12.50 USD``, ``26 November 2026``, ``1.5 MB``).
"""

from __future__ import annotations

import datetime as dt
import string
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency
from babel.units import format_unit

from bot import catalogue
from bot.languages import DEFAULT

MESSAGES: dict[str, str] = {
    # --- the gateway: routing ----------------------------------------------------------------
    "one_moment": "One moment, please…",
    "unavailable": (
        "Sorry, I'm temporarily unavailable. I've kept your message and will answer it as soon "
        "as I'm back."
    ),
    "maybe_unanswered": (
        "Sorry, something went wrong while I was answering your last message. If you don't see "
        "my answer to it, please send it again."
    ),
    # The buyer asked for this catalogue's language (each catalogue names its own language).
    "language.switched": "All right, I'll write in English from now on.",
    # A message in a language we do not speak: always in English, naming ours in themselves.
    "language.unsupported": (
        "Sorry, I can only write in {languages}. Please write to me in one of them, or talk to "
        "a person from our support team."
    ),
    "language.talk_to_person": "Talk to a person",
    # --- the gateway: people -----------------------------------------------------------------
    "handoff.queued": (
        "I'm passing you to a person from our support team. Expected wait: about {wait}. You "
        "can keep writing here in the meantime."
    ),
    "handoff.nobody_online": (
        "I've asked for a person from our support team, but nobody is online right now. Leave "
        "your message here: it stays in the queue and they will answer it as soon as they're "
        "back."
    ),
    "handoff.closed_hours": (
        "Our support team is not available right now (support hours: {hours}). Leave your "
        "message here: it stays in the queue and a person will answer it as soon as they're "
        "back."
    ),
    "handoff.minutes.one": "1 minute",
    "handoff.minutes.many": "{minutes} minutes",
    "handoff.agent_joined": "{agent} from support joined the conversation.",
    "handoff.agent_left": (
        "{agent} from support left the conversation. The assistant will continue from here."
    ),
    "handoff.agent_closed": (
        "{agent} from support left the conversation. If you need anything else, just write here."
    ),
    # --- the gateway: status changes of applications -------------------------------------------
    "status.approved": (
        "Good news: your refund application {reference} for {amount} has been approved."
    ),
    "status.rejected": "Your refund application {reference} was not approved.",
    "status.rejected_with_note": (
        "Your refund application {reference} was not approved. Note from the merchant: {note}"
    ),
    "status.awaiting_return": (
        "Your refund application {reference} was approved for return. Please send the item "
        "back and tell me the return tracking number here."
    ),
    "status.return_received": (
        "We've received the item you returned for application {reference}; your refund of "
        "{amount} is on its way."
    ),
    "status.refunded": "Your refund of {amount} for application {reference} has been paid.",
    "status.filed_by_shop": (
        "The shop has opened refund application {reference} for {amount} for you. I'll tell "
        "you here when it moves on."
    ),
    "status.merchant_asks": (
        "About your refund application {reference}, the merchant asks: {question} Please "
        "answer here."
    ),
    # --- the gateway: the satisfaction survey (bot/survey) --------------------------------------
    "survey.ask.submitted": (
        "Before you go: how easy was it to file your refund application here? Please rate it "
        "from 1 (poor) to 5 (excellent)."
    ),
    "survey.ask.closed": (
        "How would you rate the help you got from our support team today, from 1 (poor) to 5 "
        "(excellent)?"
    ),
    "survey.ask.paid_out": (
        "How was your refund experience overall? Please rate it from 1 (poor) to 5 (excellent)."
    ),
    "survey.button": "{rating} \N{WHITE MEDIUM STAR}",
    "survey.thanks": (
        "Thank you for your rating! Is there anything you'd like to add? Just write it here."
    ),
    "survey.no_comment": "No comment",
    "survey.no_comment_thanks": "Thanks! If you need anything else, just write here.",
    "survey.comment_thanks": "Thank you, I've passed your comment on to the team.",
    "survey.already_rated": "You've rated this already. Thank you!",
    # --- what the buyer tells about a submitted application (actions/aftercare.py) -------------
    "aftercare.tracking_kept": (
        "Thanks, I've added the return tracking number {tracking} to application {reference}:"
        "\n{line}"
    ),
    "aftercare.which_return": (
        "Which application is the tracking number {tracking} for? Please write it again with "
        "the application's reference:\n{lines}"
    ),
    "aftercare.answer_passed_on": (
        "Thanks, I've passed your answer on to the merchant with application {reference}."
    ),
    # --- the gateway: evidence files -----------------------------------------------------------
    "evidence.attached": "Thanks, I've added {filename} to your refund application {reference}.",
    "evidence.kept": (
        "Thanks, I've kept {filename}. It will be attached to your refund application when you "
        "submit it."
    ),
    "evidence.too_big": "That file is {size}; I can take files up to {limit}.",
    "evidence.empty": "That file is empty.",
    "evidence.wrong_type": "I can only take photos (JPEG, PNG, GIF, WebP) and PDF files.",
    "upload.too_big": "Files can be at most {limit}.",
    "upload.not_multipart": "Send the file as multipart/form-data.",
    "upload.incomplete": "Send a session and a file.",
    "upload.bad_session": "This chat session is not valid; reload the page.",
    "upload.malformed": "The upload could not be read; please try again.",
    "upload.field_too_long": "The upload's {field} field is too long.",
    "origin.refused": "The chat is not available on this site.",
    # --- the channels ----------------------------------------------------------------------------
    "webchat.bad_handshake": "The chat's connection could not be opened; reload the page.",
    "webchat.not_json": "Frames must be JSON objects.",
    "webchat.not_text": "Frames must be JSON text.",
    "webchat.no_type": "Frames must be JSON objects with a type.",
    "webchat.unknown_type": "Unknown frame type {kind}.",
    "webchat.hello_first": "Say hello first.",
    "input.empty": "A message needs some text.",
    "input.too_long": "Messages can be at most {limit} characters long.",
    "input.bad_characters": (
        "That message has characters I can't read (a NUL character or broken Unicode); please "
        "type it again."
    ),
    "input.bad_id": "That message carries an id I can't use; please send it again.",
    "rate_limited": (
        "You're sending messages faster than I can read them; please wait a few seconds."
    ),
    "webchat.failed": "Sorry, something went wrong with that message; please send it again.",
    "webchat.bad_button_frame": "A button needs message_id and index.",
    "webchat.no_such_button": "That button is not available.",
    "webchat.token_expired": "Your sign-in has expired; you are chatting as a guest.",
    "telegram.signed_in": "You're signed in as {name}.",
    "telegram.bad_link": (
        "That sign-in link is invalid or has expired, so you're chatting as a guest. Open the "
        "link in the shop again to sign in."
    ),
    "telegram.button_gone": "That button is no longer available.",
    "telegram.edits_not_read": (
        "I can't see edits to earlier messages; please send the correction as a new message."
    ),
    "telegram.agent_prefix": "{agent} (support): {text}",
    # --- the actions: words for the store's values -----------------------------------------------
    "method.immediate_refund": "Immediate refund",
    "method.no_return_refund": "No-return refund",
    "method.return_and_refund": "Return and refund",
    # The unit of the no-return threshold in the policy overview ("up to 20 per order").
    "policy.currency_hint": "per order",
    "state.awaiting_shipment": "waiting to be shipped",
    "state.shipped": "shipped",
    "state.delivered": "delivered",
    "state.cancelled": "cancelled",
    "state.pending_review": "waiting for the merchant's review",
    "state.approved": "approved",
    "state.awaiting_return": "approved, waiting for you to send the item back",
    "state.return_received": "return received, refund on its way",
    "state.refunded": "refunded",
    "state.rejected": "rejected by the merchant",
    "state.withdrawn": "withdrawn",
    "category.quality_problem": "quality problem",
    "category.not_as_described": "not as described",
    "category.wrong_item": "wrong item",
    "category.damaged": "damaged",
    "category.other": "other",
    # Why the policy does not offer a method (bot.refunds.policy's codes).
    "why_not.not_shipped": "this order has not shipped yet",
    "why_not.already_shipped": "this order has already shipped",
    "why_not.not_delivered": "this order has not been delivered yet",
    "why_not.window_closed": "the {days}-day protection window after delivery has closed",
    "why_not.cancelled": "this order was cancelled",
    "why_not.nothing_left": "everything paid on this order is already refunded or requested",
    "why_not.other": "the policy does not allow it for this order",
    # --- the actions: orders and applications --------------------------------------------------
    "order.name": "{order_id} ({items})",
    "order.name_more": "{order_id} ({items} and {more} more)",
    "order.line": "Order {name}: {state} ({total}).",
    "order.line_ship_by": "Order {name}: {state}, to be shipped by {ship_by} ({total}).",
    "order.line_shipped": (
        "Order {name}: {state} on {shipped}, delivery promised by {promised} ({total})."
    ),
    "order.line_delivered": "Order {name}: {state} on {delivered} ({total}).",
    "order.list": "Your recent orders:\n{lines}",
    "list.item": "• {line}",
    "application.line": ("{reference} for order {order_id}: {method} of {amount}, {state}."),
    "application.line_due": (
        "{reference} for order {order_id}: {method} of {amount}, {state} (decision due by {due})."
    ),
    "application.one": "Your refund application {line}",
    "application.list": "Your refund applications:\n{lines}",
    # --- the actions: the refund form ----------------------------------------------------------
    "form.fault_not_shipped": (
        "Order {order_id} wasn't shipped by the promised date, so you can get the full {full} "
        "back at once, plus {rate} compensation."
    ),
    "form.fault_late": (
        "Order {order_id} is late past its promised delivery date, so you can get the full "
        "{full} back without returning anything, plus {rate} compensation."
    ),
    "form.method_unavailable": "{method} isn't available: {why}.",
    "form.ask_method": "How would you like to be refunded?",
    "form.amount_noted": "I've noted the amount you asked for: {amount}.",
    "form.method_button": "{method}",
    "form.method_button_limited": "{method} (up to {limit})",
    "form.choose_method": "Please choose one of the refund methods offered (the buttons above).",
    "form.ask_amount_plain": "How much would you like refunded?",
    "form.ask_amount": "How much would you like back? Up to {limit} can be refunded.",
    "form.ask_amount_method": (
        "How much would you like back? Up to {limit} can be refunded with a {method}."
    ),
    "form.amount_all": "All of it ({amount})",
    "form.amount_half": "Half ({amount})",
    "form.readback": "Please check your refund application:\n{lines}\n{review}\nShall I submit it?",
    "form.readback_order": "Order: {order}",
    "form.readback_method": "Method: {method}",
    "form.readback_amount": "Amount: {amount}",
    "form.readback_compensation": "Compensation: {amount} (the merchant missed a deadline)",
    "form.readback_reason": "Reason: {reason}",
    "form.readback_reason_category": "Reason: {category}: {reason}",
    "form.review_automatic": "It will be approved automatically.",
    "form.review_merchant": "The merchant reviews it within {days} days.",
    "application.button": "{reference} (order {order_id})",
    "form.order_by_words": "Order {order}.",
    "form.which_order_first": ("One refund at a time: which order shall we start with? {orders}"),
    "form.next_order": "Now the refund for order {order_id}",
    "form.switch_order": (
        "This refund is for order {current}. Should it be for order {new} instead?"
    ),
    "form.switch_yes": "Yes, order {new}",
    "form.switch_no": "No, keep order {current}",
    "form.submit_yes": "Yes, submit",
    "form.submit_change": "Change something",
    "form.compensation_note": ", plus {amount} compensation",
    "form.refused_balance": "the order's refundable balance is now {balance}",
    "form.refused_order": "the order was not found",
    "form.refused_other": "the order no longer allows this refund",
    # How long ownership checks are paused (utter_checks_paused_*'s {wait}).
    "wait.minutes.one": "about a minute",
    "wait.minutes.many": "about {minutes} minutes",
    # Hints after a second failed answer (utter_offer_human's {hint}).
    "hint.order_id_format": (
        "Order numbers have 12 to 19 digits and are in your order confirmation."
    ),
    "hint.order_id_copy": "Please copy it from your order confirmation.",
    "hint.other_order": "Is there another order you'd like a refund for?",
    "hint.email": "It's the address your order confirmation was sent to.",
    "hint.order_and_email": "Both must match the order confirmation.",
    "hint.method": "Pick immediate refund, no-return refund or return and refund.",
    "hint.amount": "Up to {balance} can be refunded on this order.",
    "hint.category": "Pick one: quality problem, not as described, wrong item, damaged, other.",
    "hint.reason": "One sentence about what is wrong is enough.",
    "field.order_id": "order number",
    "field.customer_email": "e-mail address",
    "field.order_and_email": "order number and e-mail",
    "field.refund_method": "refund method",
    "field.refund_amount": "amount",
    "field.refund_reason": "reason",
}


#: The catalogue of each language.
CATALOGUES: dict[str, dict[str, str]] = {
    DEFAULT: MESSAGES,
    **{language: catalogue.messages(language) for language in catalogue.translations()},
}


def text(key: str, /, *, language: str = DEFAULT, **params: object) -> str:
    """Return the catalogue's sentence ``key`` in ``language`` with its placeholders filled in.

    Raises:
        KeyError: no such sentence or language, or a placeholder without a value.
    """
    return CATALOGUES[language][key].format_map(params)


def placeholders(key: str) -> frozenset[str]:
    """Return the names of the placeholders of sentence ``key``."""
    return frozenset(
        name for _, name, _, _ in string.Formatter().parse(MESSAGES[key]) if name is not None
    )


def money(amount: Decimal | str, currency: str, *, language: str = DEFAULT) -> str:
    """Return an amount as the buyer reads it (``12.50 USD``, ``12,50 US$``, ``1 234,50 ₽``)."""
    if language == DEFAULT:
        return f"{amount} {currency}"
    return format_currency(Decimal(amount), currency, locale=language)


def date(value: dt.datetime | dt.date, *, language: str = DEFAULT) -> str:
    """Return a date as the buyer reads it (``26 November 2026``, ``26 de noviembre de 2026``)."""
    if language == DEFAULT:
        return value.strftime("%d %B %Y")
    return format_date(value, format="long", locale=language)


def size(n_bytes: int, *, language: str = DEFAULT) -> str:
    """Return a file size as the buyer reads it (``1.5 MB``, ``1,5 МБ``)."""
    if language == DEFAULT:
        if n_bytes >= 1024 * 1024:
            return f"{n_bytes / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
        if n_bytes >= 1024:
            return f"{n_bytes / 1024:.0f} KB"
        return f"{n_bytes} bytes"
    if n_bytes >= 1024 * 1024:
        megabytes = round(n_bytes / (1024 * 1024), 1)
        return format_unit(
            megabytes, "digital-megabyte", length="short", format="#,##0.#", locale=language
        )
    if n_bytes >= 1024:
        kilobytes = round(n_bytes / 1024)
        return format_unit(kilobytes, "digital-kilobyte", length="short", locale=language)
    return format_unit(n_bytes, "digital-byte", length="long", locale=language)
