"""A refund application as the shop sees it: in the shop API's answers and in its webhook events.

It lives beside the store, not in the API, because the store freezes it into each event's outbox
row in the change's own unit of work (:mod:`bot.refunds.outbox`): a webhook event carries the
application as it was when the event happened, whichever process made the change. Money is a
decimal string, times are ISO-8601 in UTC with ``Z``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.refunds import policy
from bot.refunds.enums import RefundStatus, ReviewAction
from bot.refunds.models import RefundApplication


def iso(value: dt.datetime | None) -> str | None:
    """Return a time as ISO-8601 in UTC (``2026-11-20T09:30:00Z``)."""
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def action_name(action: ReviewAction) -> str:
    """Return the path segment of a review action (``request-info``)."""
    return action.value.replace("_", "-")


def application(found: RefundApplication) -> dict[str, Any]:
    """Return an application without its events."""
    return {
        **found.fields(),
        "review_due_at": iso(found.review_due_at),
        "created_at": iso(found.created_at),
        "updated_at": iso(found.updated_at),
        "allowed_actions": [
            action_name(a) for a in policy.review_actions(RefundStatus(found.status))
        ],
    }
