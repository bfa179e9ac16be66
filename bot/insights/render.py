"""The report as JSON-ready data (a stable shape) and as a text table for the terminal.

JSON shape (``version`` 2): ``period`` {since, until} as ISO-8601 UTC; ``conversations`` {total,
by_channel {channel: n}, contained, containment_rate}; ``handoffs`` [{reason, handoffs,
conversations, rate}]; ``refunds`` [{method, status, currency, applications, amount,
compensation}] with money as decimal strings; ``decisions`` {approved, rejected, decided,
approval_rate}; ``time_to_decision`` and ``time_to_payout`` {count, median_seconds,
p90_seconds}; ``messages_by_hour`` [24 counts, hour 0 first, UTC]; ``nlu_fallback`` {recorded:
true, messages, fallbacks, rate} (typed buyer messages in Rasa's tracker store and those with
intent ``nlu_fallback``) or {recorded: false, note}; ``csat`` {asked, rated, response_rate,
average, distribution {"1".."5": n}, by_channel, by_agent, by_event: [{key, rated, average,
distribution}]} (version 2: ``csat`` was {recorded: false, note} and ``nlu_fallback`` always
{recorded: false, note} in version 1). A rate, duration or average is ``null`` when there is
nothing to compute it from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.insights.figures import RATINGS, Csat, Durations, NluFallback, NotRecorded, Ratings, Report

VERSION = 2


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _durations(d: Durations) -> dict[str, Any]:
    return {"count": d.count, "median_seconds": d.median_seconds, "p90_seconds": d.p90_seconds}


def _not_recorded(n: NotRecorded) -> dict[str, Any]:
    return {"recorded": False, "note": n.note}


def _nlu(n: NluFallback | NotRecorded) -> dict[str, Any]:
    if isinstance(n, NotRecorded):
        return _not_recorded(n)
    return {"recorded": True, "messages": n.messages, "fallbacks": n.fallbacks, "rate": n.rate}


def _nlu_text(n: NluFallback | NotRecorded) -> str:
    if isinstance(n, NotRecorded):
        return n.note
    return f"{_percent(n.rate)} ({n.fallbacks} of {n.messages} typed buyer messages)"


def _distribution(r: Ratings) -> dict[str, int]:
    return {str(n): count for n, count in zip(RATINGS, r.distribution, strict=True)}


def _group(r: Ratings) -> dict[str, Any]:
    return {
        "key": r.key,
        "rated": r.rated,
        "average": r.average,
        "distribution": _distribution(r),
    }


def _csat(c: Csat) -> dict[str, Any]:
    return {
        "asked": c.asked,
        "rated": c.overall.rated,
        "response_rate": c.response_rate,
        "average": c.overall.average,
        "distribution": _distribution(c.overall),
        "by_channel": [_group(r) for r in c.by_channel],
        "by_agent": [_group(r) for r in c.by_agent],
        "by_event": [_group(r) for r in c.by_event],
    }


def to_json(report: Report) -> dict[str, Any]:
    """Return the report in the documented JSON shape."""
    c = report.conversations
    return {
        "version": VERSION,
        "period": {"since": _iso(report.period.since), "until": _iso(report.period.until)},
        "conversations": {
            "total": c.total,
            "by_channel": {b.channel: b.conversations for b in c.by_channel},
            "contained": c.contained,
            "containment_rate": c.containment_rate,
        },
        "handoffs": [
            {"reason": h.reason, "handoffs": h.handoffs, "conversations": h.conversations}
            | {"rate": h.rate}
            for h in report.handoffs
        ],
        "refunds": [
            {
                "method": g.method,
                "status": g.status,
                "currency": g.currency,
                "applications": g.applications,
                "amount": str(g.amount),
                "compensation": str(g.compensation),
            }
            for g in report.refunds
        ],
        "decisions": {
            "approved": report.decisions.approved,
            "rejected": report.decisions.rejected,
            "decided": report.decisions.decided,
            "approval_rate": report.decisions.approval_rate,
        },
        "time_to_decision": _durations(report.time_to_decision),
        "time_to_payout": _durations(report.time_to_payout),
        "messages_by_hour": list(report.messages_by_hour),
        "nlu_fallback": _nlu(report.nlu_fallback),
        "csat": _csat(report.csat),
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return (
        f"{days}d {hours:02d}:{minutes:02d}:{secs:02d}"
        if days
        else (f"{hours:02d}:{minutes:02d}:{secs:02d}")
    )


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return lines


def to_text(report: Report) -> str:
    """Return the report as text tables for a terminal."""
    c = report.conversations
    since, until = _iso(report.period.since), _iso(report.period.until)
    lines = [f"Report for {since} to {until} (until excluded)", ""]
    channels = ", ".join(f"{b.channel} {b.conversations}" for b in c.by_channel)
    lines.append(f"Conversations: {c.total}" + (f" ({channels})" if channels else ""))
    lines.append(
        f"Contained (no person asked in): {c.contained}  rate {_percent(c.containment_rate)}"
    )
    lines += ["", "Handoffs by reason:"]
    if report.handoffs:
        rows = [
            [h.reason, str(h.handoffs), str(h.conversations), _percent(h.rate)]
            for h in report.handoffs
        ]
        lines += _table(["reason", "handoffs", "conversations", "rate"], rows)
    else:
        lines.append("  none")
    lines += ["", "Refund applications (status at the period's end):"]
    if report.refunds:
        rows = [
            [
                g.method,
                g.status,
                g.currency,
                str(g.applications),
                str(g.amount),
                str(g.compensation),
            ]
            for g in report.refunds
        ]
        lines += _table(
            ["method", "status", "currency", "applications", "amount", "compensation"], rows
        )
    else:
        lines.append("  none")
    d = report.decisions
    lines += [
        "",
        f"Decided: {d.decided} (approved {d.approved}, rejected {d.rejected})"
        f"  approval rate {_percent(d.approval_rate)}",
    ]
    for label, times in (("decision", report.time_to_decision), ("payout", report.time_to_payout)):
        lines.append(
            f"Submission to {label}: median {_duration(times.median_seconds)}"
            f"  p90 {_duration(times.p90_seconds)}  ({times.count} applications)"
        )
    busiest = sorted(range(24), key=lambda h: (-report.messages_by_hour[h], h))[:3]
    top = [f"{h:02d}:00 ({report.messages_by_hour[h]})" for h in busiest]
    total = sum(report.messages_by_hour)
    lines += [
        "",
        f"Buyer messages: {total}" + (f"; busiest hours UTC: {', '.join(top)}" if total else ""),
    ]
    lines.append(f"NLU fallback rate: {_nlu_text(report.nlu_fallback)}")
    lines += _csat_text(report.csat)
    return "\n".join(lines)


def _average(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _csat_text(c: Csat) -> list[str]:
    o = c.overall
    lines = [
        "",
        f"CSAT: average {_average(o.average)} of {o.rated} ratings"
        f" ({c.asked} asked, response rate {_percent(c.response_rate)})",
    ]
    groups = [
        (label, r)
        for label, rows in (("channel", c.by_channel), ("agent", c.by_agent), ("event", c.by_event))
        for r in rows
    ]
    if not groups:
        return lines
    header = ["by", "group", "ratings", "average", *(f"{n}*" for n in RATINGS)]
    rows = [
        [label, r.key, str(r.rated), _average(r.average), *(str(n) for n in r.distribution)]
        for label, r in [("all", o), *groups]
    ]
    return lines + _table(header, rows)
