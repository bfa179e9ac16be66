"""``Idempotency-Key`` on every POST: the first answer is kept and replayed, per API key.

The key is claimed first, in the same unit of work as the change: a row in ``api_idempotency``
(unique per API key) is written before the work runs and filled with the answer after it. A
concurrent duplicate waits on that row's unique index (PostgreSQL) or on the write lock (SQLite),
then finds the stored answer and replays it; it never runs the work a second time. A request
that fails (a 4xx) rolls back with its claim, so a retry is judged afresh; only successes are
kept. The same key with another body (another path, another JSON) is refused with 422.

Answers are kept for :data:`RETENTION` (24 hours, as Stripe does); a key's older ones are deleted
when it next sends a key, so the table holds about a day of each key's POSTs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.api.credentials import Caller
from bot.api.models import IdempotentResponse
from bot.api.problems import Problem
from bot.clock import utcnow
from bot.gateway import inputs, keys

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255
REPLAYED_HEADER = "Idempotent-Replayed"
RETENTION = dt.timedelta(hours=24)

Work = Callable[[Session], tuple[int, dict[str, Any]]]


def request_hash(method: str, path: str, body: Any) -> str:
    """Return the fingerprint of a request: the same JSON in any spacing or key order is equal."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_exact)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _exact(value: object) -> str:
    if isinstance(value, Decimal):
        return f"decimal:{value}"
    raise TypeError(type(value).__name__)


async def run(request: web.Request, caller: Caller, body: Any, work: Work) -> web.Response:
    """Run ``work`` in one unit of work and answer with its ``(status, body)``, idempotently."""
    key = request.headers.get(HEADER)
    if key is not None and (
        not key.strip() or len(key) > MAX_KEY_CHARS or not inputs.storable(key)
    ):
        raise Problem(400, "bad-idempotency-key", f"{HEADER} is 1-{MAX_KEY_CHARS} characters")
    fingerprint = request_hash(request.method, request.path, body)
    sessions = request.app[keys.SESSIONS]

    def unit() -> tuple[int, str, bool]:
        with sessions.begin() as session:
            if key is not None:
                now = utcnow()
                session.execute(
                    delete(IdempotentResponse).where(
                        IdempotentResponse.api_key_id == caller.key_id,
                        IdempotentResponse.created_at < now - RETENTION,
                    )
                )
                kept = _kept(session, caller, key, fingerprint)
                if kept is not None:
                    return kept
                claim = IdempotentResponse(
                    api_key_id=caller.key_id,
                    key=key,
                    request_hash=fingerprint,
                    status=0,
                    body="",
                    created_at=now,
                )
                session.add(claim)
                session.flush()
            status, answer = work(session)
            text = json.dumps(answer)
            if key is not None:
                claim.status = status
                claim.body = text
            return status, text, False

    def read_kept() -> tuple[int, str, bool] | None:
        assert key is not None
        with sessions.begin() as session:
            return _kept(session, caller, key, fingerprint)

    try:
        status, text, replayed = await asyncio.to_thread(unit)
    except IntegrityError:
        # Someone else claimed the key meanwhile (or the work's own unique index caught a
        # duplicate); their answer is the one to give.
        kept = await asyncio.to_thread(read_kept) if key is not None else None
        if kept is None:
            raise
        status, text, replayed = kept
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    return web.Response(status=status, text=text, content_type="application/json", headers=headers)


def _kept(
    session: Session, caller: Caller, key: str, fingerprint: str
) -> tuple[int, str, bool] | None:
    row: IdempotentResponse | None = session.execute(
        select(IdempotentResponse).where(
            IdempotentResponse.api_key_id == caller.key_id, IdempotentResponse.key == key
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Problem(
            422,
            "idempotency-key-reused",
            f"this {HEADER} was used for a different request; use a new key",
        )
    return int(row.status), str(row.body), True
