"""The demo's API key: one key named ``demo`` with every scope, made by ``make run`` only.

The key is made once per database and its text kept in ``var/demo-api-key`` (mode 0600), so each
``make run`` can print it again. It exists only where the demo shop is switched on
(``REFUNDBOT_DEMO_SHOP``, which ``make run`` sets); a real shop's defaults never make one.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.api import credentials
from bot.api.models import ApiKey

NAME = "demo"
FILE = "demo-api-key"


def demo_key(session: Session, *, var_dir: Path, now: dt.datetime) -> str | None:
    """Return the demo key's text, making the key when the database has none.

    ``None`` when a demo key exists in the database but not in ``var_dir`` (made on another
    machine, or its file deleted): ``refundbot api-key revoke demo`` lets the next run make one.
    """
    path = var_dir / FILE
    if path.is_file():
        kept = path.read_text().strip()
        if credentials.authenticate(session, token=kept) is not None:
            return kept
    if session.execute(select(ApiKey.id).where(ApiKey.name == NAME)).first() is not None:
        return None
    _, text = credentials.create_key(session, name=NAME, scopes=list(credentials.SCOPES), now=now)
    var_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text + "\n")
    return text
