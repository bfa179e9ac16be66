"""``/api/v1/webhooks``: the shop subscribes an endpoint to events, reads them and their log.

A webhook is a URL, public unless allowed otherwise (:mod:`bot.api.destinations`), and the event
types it wants (:data:`bot.refunds.outbox.EVENT_TYPES`). Its signing secret is made here and
answered once, on creation; it is kept as it is, since each body's HMAC needs it
(:mod:`bot.api.delivery`), and never shown or logged again. Deleting a webhook deletes its
pending deliveries with it, so nothing more is sent to it. Table functions take a ``session``
(keyword-only) and never commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from aiohttp import web
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.api import destinations, idempotency, schemas
from bot.api.credentials import Caller
from bot.api.edge import json_body
from bot.api.models import OutboxEvent, Webhook, WebhookAttempt, WebhookDelivery
from bot.api.present import iso
from bot.api.problems import Problem, invalid
from bot.clock import utcnow
from bot.gateway import keys, transcript

#: How many deliveries the log answers with, newest first.
LOG_LIMIT = 100


class NoSuchWebhook(Exception):
    """No webhook or delivery has that id."""


def create_webhook(
    session: Session, *, url: str, events: list[str], now: dt.datetime
) -> tuple[Webhook, str]:
    """Add a webhook; return it and its signing secret."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(url=url, events=" ".join(events), secret=secret, created_at=now)
    session.add(hook)
    session.flush()
    return hook, secret


def list_webhooks(session: Session) -> list[Webhook]:
    """Return every webhook, oldest first."""
    return list(session.execute(select(Webhook).order_by(Webhook.id)).scalars())


def get_webhook(session: Session, *, webhook_id: int) -> Webhook:
    """Return the webhook; raise :class:`NoSuchWebhook` when there is none."""
    hook: Webhook | None = session.get(Webhook, webhook_id)
    if hook is None:
        raise NoSuchWebhook(str(webhook_id))
    return hook


def delete_webhook(session: Session, *, webhook_id: int) -> None:
    """Delete the webhook, its deliveries and their attempts: nothing more is sent to it."""
    hook = get_webhook(session, webhook_id=webhook_id)
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == hook.id)
    # Deliveries before attempts, in id order, as the retention pass takes them: never a
    # deadlock with it (bot.api.retention).
    session.execute(deliveries.order_by(WebhookDelivery.id).with_for_update()).all()
    session.execute(
        delete(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(deliveries))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id)
        .execution_options(synchronize_session=False)
    )
    session.delete(hook)


def delivery_log(
    session: Session, *, webhook_id: int, limit: int = LOG_LIMIT
) -> list[dict[str, Any]]:
    """Return the webhook's latest deliveries, newest first, each with its attempts."""
    get_webhook(session, webhook_id=webhook_id)
    rows = session.execute(
        select(WebhookDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ).all()
    attempts: dict[int, list[WebhookAttempt]] = {}
    if rows:
        for attempt in session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_([d.id for d, _ in rows]))
            .order_by(WebhookAttempt.id)
        ).scalars():
            attempts.setdefault(int(attempt.delivery_id), []).append(attempt)
    return [_delivery(d, e, attempts.get(int(d.id), [])) for d, e in rows]


def retry(session: Session, *, delivery_id: int, now: dt.datetime, window: dt.timedelta) -> str:
    """Send the delivery again now, with a fresh retry window; return its status before."""
    # Locked: with the retention pass (bot.api.retention), the second finds what the first left.
    delivery: WebhookDelivery | None = session.get(
        WebhookDelivery, delivery_id, with_for_update=True
    )
    if delivery is None:
        raise NoSuchWebhook(str(delivery_id))
    before = str(delivery.status)
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.expires_at = now + window
    delivery.claim = None
    return before


def retry_failed(
    session: Session, *, webhook_id: int, now: dt.datetime, window: dt.timedelta
) -> int:
    """Send every failed delivery of the webhook again now; return how many."""
    get_webhook(session, webhook_id=webhook_id)
    failed = session.execute(
        select(WebhookDelivery.id).where(
            WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.status == "failed"
        )
    ).scalars()
    return sum(1 for d in failed if retry(session, delivery_id=int(d), now=now, window=window))


def counts(session: Session) -> dict[int, dict[str, int]]:
    """Return, per webhook, how many deliveries are in each status."""
    found: dict[int, dict[str, int]] = {}
    for webhook_id, status, count in session.execute(
        select(WebhookDelivery.webhook_id, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.webhook_id, WebhookDelivery.status
        )
    ):
        found.setdefault(int(webhook_id), {})[str(status)] = int(count)
    return found


def present(hook: Webhook) -> dict[str, Any]:
    """Return a webhook as the API shows it (never its secret)."""
    return {
        "id": hook.id,
        "url": hook.url,
        "events": hook.events.split(),
        "created_at": iso(hook.created_at),
    }


def _delivery(
    delivery: WebhookDelivery, event: OutboxEvent, attempts: list[WebhookAttempt]
) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": event.event_id,
        "event_type": event.type,
        "status": delivery.status,
        "created_at": iso(delivery.created_at),
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "delivered_at": iso(delivery.delivered_at),
        "attempts": [
            {
                "at": iso(a.at),
                "status_code": a.status_code,
                "response_excerpt": a.response_excerpt,
                "duration_ms": a.duration_ms,
                "error": a.error,
                "next_attempt_at": iso(a.next_attempt_at),
            }
            for a in attempts
        ],
    }


# --- views --------------------------------------------------------------------------------


async def create(request: web.Request, caller: Caller) -> web.Response:
    """Subscribe a URL to events; the answer holds the signing secret, this once."""
    body, _ = await json_body(request)
    errors = schemas.check(schemas.WEBHOOK_CREATE, body)
    if not errors:
        why = await destinations.problem(body["url"], request.app[keys.SETTINGS].gateway)
        if why is not None:
            errors = [{"field": "url", "detail": why}]
    if errors:
        raise invalid(errors)

    def work(session: Session) -> tuple[int, dict[str, Any]]:
        hook, secret = create_webhook(session, url=body["url"], events=body["events"], now=utcnow())
        return 201, {**present(hook), "secret": secret}

    return await idempotency.run(request, caller, body, work)


async def listing(request: web.Request, caller: Caller) -> web.Response:
    """Return every webhook."""
    answer = await transcript.run_in_session(
        request.app[keys.READ_SESSIONS],
        lambda s: {"data": [present(h) for h in list_webhooks(s)]},
    )
    return web.json_response(answer)


async def read(request: web.Request, caller: Caller) -> web.Response:
    """Return one webhook."""
    webhook_id = _webhook_id(request)
    answer = await _found(
        request, lambda s: present(get_webhook(s, webhook_id=webhook_id)), read_only=True
    )
    return web.json_response(answer)


async def remove(request: web.Request, caller: Caller) -> web.Response:
    """Delete the webhook; nothing more is sent to it."""
    webhook_id = _webhook_id(request)
    await _found(request, lambda s: delete_webhook(s, webhook_id=webhook_id), read_only=False)
    return web.Response(status=204)


async def deliveries(request: web.Request, caller: Caller) -> web.Response:
    """Return the webhook's latest deliveries and their attempts."""
    webhook_id = _webhook_id(request)
    log = await _found(request, lambda s: delivery_log(s, webhook_id=webhook_id), read_only=True)
    return web.json_response({"data": log})


def _webhook_id(request: web.Request) -> int:
    raw = request.match_info["webhook_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise Problem(404, "not-found", f"no webhook {raw[:40]}")
    return int(raw)


async def _found(request: web.Request, work: Any, *, read_only: bool) -> Any:
    factory = request.app[keys.READ_SESSIONS if read_only else keys.SESSIONS]
    try:
        return await transcript.run_in_session(factory, work)
    except NoSuchWebhook as e:
        raise Problem(404, "not-found", f"no webhook {e}") from e
