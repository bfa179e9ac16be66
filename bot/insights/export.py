"""The report as one long CSV table (``figure,key,currency,value``), for a spreadsheet.

One row per number, so a pivot table can regroup it: ``conversations/webchat``,
``refund_amount/return_and_refund:refunded`` with its currency, ``messages_by_hour/09``,
``csat_average/agent:ana``, ``csat_ratings/event:closed:5``; money
as decimal text, rates as fractions, durations in seconds, empty where there is nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

Row = tuple[str, str, str, Any]


def _rows(data: dict[str, Any]) -> Iterator[Row]:
    yield "period", "since", "", data["period"]["since"]
    yield "period", "until", "", data["period"]["until"]
    c = data["conversations"]
    yield "conversations", "total", "", c["total"]
    for channel, count in c["by_channel"].items():
        yield "conversations", channel, "", count
    yield "contained", "", "", c["contained"]
    yield "containment_rate", "", "", c["containment_rate"]
    for h in data["handoffs"]:
        yield "handoffs", h["reason"], "", h["handoffs"]
        yield "handoff_conversations", h["reason"], "", h["conversations"]
        yield "handoff_rate", h["reason"], "", h["rate"]
    for g in data["refunds"]:
        key = f"{g['method']}:{g['status']}"
        yield "refund_applications", key, g["currency"], g["applications"]
        yield "refund_amount", key, g["currency"], g["amount"]
        yield "refund_compensation", key, g["currency"], g["compensation"]
    for name in ("approved", "rejected", "decided", "approval_rate"):
        yield name, "", "", data["decisions"][name]
    for figure in ("time_to_decision", "time_to_payout"):
        for name in ("count", "median_seconds", "p90_seconds"):
            yield figure, name, "", data[figure][name]
    for hour, count in enumerate(data["messages_by_hour"]):
        yield "messages_by_hour", f"{hour:02d}", "", count
    nlu = data["nlu_fallback"]
    if nlu["recorded"]:
        for name in ("messages", "fallbacks", "rate"):
            yield "nlu_fallback", name, "", nlu[name]
    else:
        yield "nlu_fallback", "", "", nlu["note"]
    yield from _csat(data["csat"])


def _csat(c: dict[str, Any]) -> Iterator[Row]:
    """``csat_average/channel:webchat``, ``csat_ratings/agent:ana:5``: one row per number."""
    yield "csat_asked", "", "", c["asked"]
    yield "csat_response_rate", "", "", c["response_rate"]
    groups = [("all", c)] + [
        (f"{by}:{g['key']}", g) for by in ("channel", "agent", "event") for g in c[f"by_{by}"]
    ]
    for key, group in groups:
        yield "csat_rated", key, "", group["rated"]
        yield "csat_average", key, "", group["average"]
        for rating, count in group["distribution"].items():
            yield "csat_ratings", f"{key}:{rating}", "", count


def to_csv(data: dict[str, Any]) -> str:
    """Return the report, as :func:`bot.insights.render.to_json` gives it, as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["figure", "key", "currency", "value"])
    for figure, key, currency, value in _rows(data):
        writer.writerow([figure, key, currency, "" if value is None else value])
    return out.getvalue()
