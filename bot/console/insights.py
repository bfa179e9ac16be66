"""The console's Insights page: the report of ``refundbot report`` for merchants and admins.

``GET /console/api/insights?since=YYYY-MM-DD&until=YYYY-MM-DD`` answers the report's JSON
(:mod:`bot.insights.render`), ``GET /console/api/insights.csv`` the same as a CSV download;
the period is read as the command reads it (the last 7 days without dates). Agents without the
role get 403: the figures are the shop's, not one conversation's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.console import keys
from bot.console.session import current_agent
from bot.gateway import keys as gateway_keys
from bot.gateway import transcript
from bot.insights.export import to_csv
from bot.insights.period import BadPeriod, period_of
from bot.insights.render import to_json
from bot.insights.report import build_report

MAX_DAY_CHARS = 10


def requested_period(request: web.Request) -> tuple[dt.datetime, dt.datetime]:
    """Return the period of the request's ``since``/``until`` days; 400 when they are not days."""
    since, until = (request.query.get(k) or None for k in ("since", "until"))
    if any(v is not None and len(v) > MAX_DAY_CHARS for v in (since, until)):
        raise web.HTTPBadRequest(text="give days as YYYY-MM-DD")
    try:
        return period_of(since, until, now=utcnow())
    except BadPeriod as e:
        raise web.HTTPBadRequest(text=str(e).replace("--", "")) from e


async def _report(request: web.Request) -> dict[str, Any]:
    """Return the report's JSON for the request's period; 403 or 400 as the request deserves."""
    if not current_agent(request).role.reads_insights:
        raise web.HTTPForbidden(text="only a merchant or an admin may read the insights")
    start, end = requested_period(request)

    tracker = request.app[keys.TRACKER]

    def read(session: Session) -> dict[str, Any]:
        return to_json(build_report(session, since=start, until=end, tracker=tracker))

    return await transcript.run_in_session(request.app[gateway_keys.READ_SESSIONS], read)


async def insights(request: web.Request) -> web.Response:
    """Return the report on the period as JSON."""
    return web.json_response(await _report(request))


async def insights_csv(request: web.Request) -> web.Response:
    """Return the report on the period as a CSV file to download."""
    data = await _report(request)
    days = "_".join(
        dt.datetime.fromisoformat(data["period"][k].replace("Z", "+00:00")).strftime("%Y%m%d")
        for k in ("since", "until")
    )
    return web.Response(
        text=to_csv(data),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="refundbot-report-{days}.csv"'},
    )
