"""Answers about the refund policy, with the policy's own terms filled in."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.common import settings
from bot.languages import DEFAULT
from bot.messages import text
from bot.refunds.words import readable


def policy_topic(said: str, language: str = DEFAULT) -> str | None:
    """Return the policy answer a question is about, if it names one of the policy's topics.

    The buyer's language's topics are looked for first, then English's; within a language,
    the first topic that matches wins.
    """
    return next(
        (
            f"utter_policy_{topic}"
            for w in readable(language)
            for topic, pattern in w.policy_topics
            if pattern.search(said)
        ),
        None,
    )


def policy_question(said: str, language: str = DEFAULT) -> str | None:
    """Return the policy answer for a question about getting money back, read from its words.

    For messages NLU did not take for a policy question ("how long until I get my money
    back?" asked by a buyer who has no application yet).
    """
    if not any(w.money_back.search(said) for w in readable(language)):
        return None
    return policy_topic(said, language)


def answer_policy(dispatcher: CollectingDispatcher, response: str, *, language: str) -> None:
    """Say the policy ``response`` with the policy's own terms filled in."""
    config = settings().policy
    dispatcher.utter_message(
        response=response,
        no_return_threshold=str(config.no_return_threshold),
        currency_hint=text("policy.currency_hint", language=language),
        protection_days=str(config.protection_window_days),
        review_days=str(config.review_deadline_days),
        compensation_percent=f"{config.compensation_rate * 100:.0f}",
    )


def about_refunds(said: str, language: str = DEFAULT) -> bool:
    """Return True when a question is about refunds at all ("can I pay with Apple Pay?" is not)."""
    if shop_question(said, language):
        return False
    return policy_topic(said, language) is not None or any(
        w.about_refunds.search(said) for w in readable(language)
    )


def shop_question(said: str, language: str = DEFAULT) -> bool:
    """Return True for a question about the shop, not refunds ("can I pay with Apple Pay?")."""
    tables = readable(language)
    return any(w.shop_question.search(said) for w in tables) and not any(
        w.refund_words.search(said) for w in tables
    )
