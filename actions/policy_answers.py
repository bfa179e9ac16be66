"""Answers about the refund policy, with the policy's own terms filled in."""

from __future__ import annotations

import re

from rasa_sdk.executor import CollectingDispatcher

from actions.common import settings

#: Which policy answer a question is about; the first that matches wins.
POLICY_TOPICS: list[tuple[str, re.Pattern[str]]] = [
    (
        "utter_policy_return_shipping",
        re.compile(
            r"ship(ping)? (back|cost|fee)|who pays|postage|"
            r"return (label|shipping|postage)|send (it )?back",
            re.I,
        ),
    ),
    (
        "utter_policy_compensation",
        re.compile(
            r"compensat|late|never (arrived|shipped)|"
            r"didn'?t ship|not shipped|delay",
            re.I,
        ),
    ),
    (
        "utter_policy_deadlines",
        re.compile(
            r"how long|how many days|deadline|time limit|"
            r"when will|how soon|days|window|too late|expire",
            re.I,
        ),
    ),
    ("utter_policy_partial", re.compile(r"partial|part of|some of (the|my) money|only part", re.I)),
    ("utter_policy_no_return", re.compile(r"keep (it|the item)|no[- ]return|without return", re.I)),
    (
        "utter_policy_immediate",
        re.compile(
            r"immediate|instant|before (it )?ship|not shipped yet|"
            r"cancel",
            re.I,
        ),
    ),
]


_MONEY_BACK = re.compile(r"\b(refund|money|return|paid|pay ?back|reimburs)", re.I)


def policy_topic(said: str) -> str | None:
    """Return the policy answer a question is about, if it names one of the policy's topics."""
    return next((name for name, pattern in POLICY_TOPICS if pattern.search(said)), None)


def policy_question(said: str) -> str | None:
    """Return the policy answer for a question about getting money back, read from its words.

    For messages NLU did not take for a policy question ("how long until I get my money
    back?" asked by a buyer who has no application yet).
    """
    return policy_topic(said) if _MONEY_BACK.search(said) else None


def answer_policy(dispatcher: CollectingDispatcher, response: str) -> None:
    """Say the policy ``response`` with the policy's own terms filled in."""
    config = settings().policy
    dispatcher.utter_message(
        response=response,
        no_return_threshold=str(config.no_return_threshold),
        currency_hint="per order",
        protection_days=str(config.protection_window_days),
        review_days=str(config.review_deadline_days),
        compensation_percent=f"{config.compensation_rate * 100:.0f}",
    )


#: Words of a question about the refund policy itself, when no topic of it is named.
_ABOUT_REFUNDS = re.compile(
    r"\b(refund|money|return|reimburs|policy|policies|rules?|guarantee|warranty|protection|"
    r"buyer protection|compensat|how (does|do) (it|this|that|refunds?) work|what (happens|if)|"
    r"rights|responsible|restocking|fee|not as described|damaged|fake|seller|merchant|"
    r"package|parcel|ship|deliver|arriv|difference|method|option)",
    re.I,
)


#: Shop questions that are not about refunds, even in the middle of one.
_SHOP_QUESTION = re.compile(
    r"\b(pay (with|by|using|via)|apple pay|google pay|paypal|klarna|credit card|debit card|"
    r"gift card|coupon|promo code|discount code|voucher|password|log ?in|sign ?up|newsletter|"
    r"in stock|size guide)\b",
    re.I,
)
_REFUND_WORDS = re.compile(r"\b(refund|money back|reimburs|return)", re.I)


def about_refunds(said: str) -> bool:
    """Return True when a question is about refunds at all ("can I pay with Apple Pay?" is not)."""
    if _SHOP_QUESTION.search(said) and not _REFUND_WORDS.search(said):
        return False
    return policy_topic(said) is not None or _ABOUT_REFUNDS.search(said) is not None


def shop_question(said: str) -> bool:
    """Return True for a question about the shop, not refunds ("can I pay with Apple Pay?")."""
    return _SHOP_QUESTION.search(said) is not None and not _REFUND_WORDS.search(said)
