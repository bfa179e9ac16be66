"""Pages of refund applications for the shop API: filtered, newest first, by an opaque cursor.

The order is ``created_at`` then ``id``, both descending, so a page boundary is a position in a
total order: rows added meanwhile never shift or repeat a page. The cursor is that position,
base64url-encoded; clients pass it back untouched.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.refunds.enums import RefundStatus
from bot.refunds.models import RefundApplication
from bot.refunds.order_rows import parse_timestamp


@dataclass(frozen=True)
class Filters:
    """What a listing is narrowed to."""

    statuses: Sequence[RefundStatus] | None = None
    order_id: str | None = None
    customer_id: str | None = None
    created_after: dt.datetime | None = None


Position = tuple[dt.datetime, int]


def encode_cursor(position: Position) -> str:
    """Return the opaque cursor of the row at ``position``."""
    created_at, row_id = position
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position | None:
    """Return the position a cursor names, or ``None`` when it is not one this API made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        return None
    at = parse_timestamp(created)
    if at is None or isinstance(row_id, bool) or not isinstance(row_id, int) or row_id < 1:
        return None
    return at, row_id


def page(
    session: Session, *, filters: Filters, after: Position | None, limit: int
) -> tuple[list[RefundApplication], Position | None]:
    """Return up to ``limit`` applications past ``after``, and the position of the last if more."""
    query = select(RefundApplication).order_by(
        RefundApplication.created_at.desc(), RefundApplication.id.desc()
    )
    if filters.statuses is not None:
        query = query.where(RefundApplication.status.in_([s.value for s in filters.statuses]))
    if filters.order_id is not None:
        query = query.where(RefundApplication.order_id == filters.order_id)
    if filters.customer_id is not None:
        query = query.where(RefundApplication.customer_id == filters.customer_id)
    if filters.created_after is not None:
        query = query.where(RefundApplication.created_at > filters.created_after)
    if after is not None:
        created_at, row_id = after
        query = query.where(
            or_(
                RefundApplication.created_at < created_at,
                and_(RefundApplication.created_at == created_at, RefundApplication.id < row_id),
            )
        )
    rows = list(session.execute(query.limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    last = (rows[-1].created_at, int(rows[-1].id)) if more else None
    return rows, last
