"""``/metrics`` and conversation-tagged logs on the action server (rasa-sdk's Sanic app).

Each call of ``/webhook`` is one action run for Rasa: it is counted and timed by action name and
outcome (``ok``; ``rejected``: a form validator refused the slot; ``error``; ``unknown`` for a name
the server does not have, whose name is not kept so that callers cannot add series). While it
runs, the conversation (Rasa's ``sender_id``) tags every log line (:mod:`bot.observability.logs`).
``/metrics`` is served on the action server's own port with the gateway's rule: callers on this
machine, or ``Authorization: Bearer`` with ``REFUNDBOT_HEALTH_TOKEN``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import time
import zlib
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.process_collector import ProcessCollector

from bot.observability import logs
from bot.observability.metrics import CONTENT_TYPE

#: Most actions answer in milliseconds; a submission writes to the database.
ACTION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OUTCOMES = {200: "ok", 400: "rejected", 404: "unknown"}


class ActionMetrics:
    """The action server's counters, on a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.runs = Counter(
            "refundbot_action_runs",
            "Actions run for Rasa, by action and outcome (ok, rejected, error, unknown).",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "refundbot_action_seconds",
            "How long an action took to run, by action.",
            ["action"],
            buckets=ACTION_BUCKETS,
            registry=self.registry,
        )

    def ran(self, action: str, status: int, seconds: float) -> None:
        """Count one ``/webhook`` call that answered ``status`` after ``seconds``."""
        outcome = OUTCOMES.get(status, "error")
        name = "unknown" if outcome == "unknown" else action
        self.runs.labels(name, outcome).inc()
        self.seconds.labels(name).observe(seconds)

    def render(self) -> bytes:
        """Return every metric in Prometheus' text format."""
        body: bytes = generate_latest(self.registry)
        return body


def attach(app: Any, metrics: ActionMetrics, *, health_token: str = "") -> None:
    """Serve ``/metrics`` on rasa-sdk's Sanic ``app`` and measure its ``/webhook`` calls."""
    from sanic import response

    async def started(request: Any) -> None:
        call = _action_call(request) if request.path == "/webhook" else {}
        request.ctx.action = str(call.get("next_action") or "unknown")
        request.ctx.started = time.perf_counter()
        # Set on every request: one connection's requests share one task, hence one context.
        logs.CONVERSATION_ID.set(call.get("sender_id") or None)

    async def finished(request: Any, answer: Any) -> None:
        if request.path == "/webhook" and hasattr(request.ctx, "started"):
            metrics.ran(
                request.ctx.action, answer.status, time.perf_counter() - request.ctx.started
            )

    async def serve(request: Any) -> Any:
        if not _operator(request, health_token):
            return response.raw(
                b"/metrics is served to this machine, or with the health token as a bearer token",
                status=403,
                content_type="text/plain; charset=utf-8",
            )
        return response.raw(metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app.register_middleware(started, "request")
    app.register_middleware(finished, "response")
    app.add_route(serve, "/metrics", methods=["GET"], name="metrics")


def _action_call(request: Any) -> dict[str, Any]:
    try:
        body = request.body
        if request.headers.get("Content-Encoding") == "deflate":
            body = zlib.decompress(body)
        call = json.loads(body)
    except (ValueError, zlib.error):
        return {}
    return call if isinstance(call, dict) else {}


def _operator(request: Any, token: str) -> bool:
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(
        given.encode(errors="surrogateescape"), f"Bearer {token}".encode()
    ):
        return True
    try:
        return ipaddress.ip_address(request.ip).is_loopback
    except ValueError:
        return False
