"""When people answer: the support hours, and telling buyers about them."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from bot.settings import WEEKDAYS, ConsoleSettings, parse_hours


def in_support_hours(settings: ConsoleSettings, now: dt.datetime) -> bool:
    """Return whether people answer at ``now`` (always, when no hours are set)."""
    local = now.astimezone(zoneinfo.ZoneInfo(settings.support_timezone))
    if local.weekday() not in settings.support_days:
        return False
    if not settings.support_hours:
        return True
    opens, closes = parse_hours(settings.support_hours)
    return opens <= local.time() < closes


def describe_hours(settings: ConsoleSettings) -> str:
    """Return the support hours in words (``Mon–Fri 09:00–17:00 UTC``)."""
    days = settings.support_days
    names = [WEEKDAYS[d].title() for d in days]
    if len(days) == 7:
        when = "every day"
    elif list(days) == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        when = f"{names[0]}–{names[-1]}"
    else:
        when = ", ".join(names)
    hours = settings.support_hours.replace("-", "–") if settings.support_hours else "all day"
    return f"{when} {hours} ({settings.support_timezone})"
