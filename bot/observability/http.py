"""``GET /metrics`` on the gateway, and the scrape-time collectors that need its database.

Who may read it follows the rule of ``/health``'s details: a caller on this machine (after the
trusted proxies are taken into account), or one sending ``Authorization: Bearer`` with
``REFUNDBOT_HEALTH_TOKEN``. Anyone else gets ``403``: the numbers say how busy the shop is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from bot.gateway import keys, views
from bot.observability import backlogs
from bot.observability.metrics import CONTENT_TYPE, BacklogCollector, GatewayMetrics, PoolCollector

METRICS = web.AppKey("metrics", GatewayMetrics)


def setup(app: web.Application, metrics: GatewayMetrics) -> None:
    """Serve ``metrics`` at ``/metrics``; read the database's queues and pools while it is open.

    Call it after the database's ``cleanup_ctx`` is in the app.
    """
    app[METRICS] = metrics
    app.router.add_get("/metrics", serve)
    app.cleanup_ctx.append(_collectors)


async def serve(request: web.Request) -> web.Response:
    """Return every metric in Prometheus' text format, to operators only."""
    if not views.may_see_details(request):
        raise web.HTTPForbidden(
            text="/metrics is served to this machine, or with the health token as a bearer token"
        )
    # The scrape-time collectors query the database: off the event loop, like every unit of work.
    body = await asyncio.to_thread(request.app[METRICS].render)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def _collectors(app: web.Application) -> AsyncIterator[None]:
    metrics = app[METRICS]
    write = app[keys.SESSIONS].kw["bind"]
    read = app[keys.READ_SESSIONS].kw["bind"]
    pools = {"write": write.pool} if read is write else {"write": write.pool, "read": read.pool}
    removals = [
        metrics.add(PoolCollector(pools)),
        metrics.add(BacklogCollector(backlogs.reader(app[keys.READ_SESSIONS]))),
    ]
    try:
        yield
    finally:
        for remove in removals:
            remove()
