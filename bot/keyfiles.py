"""Secrets kept in files under ``var/`` (the Rasa token, the shop secret) when not set.

:mod:`bot.settings` reads them through :func:`ensure_secret`; this module only makes and reads
the files, so that processes starting together agree on one secret.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from bot.settings import ConfigError


def _new_secret() -> str:
    """Return 256 random bits as hex: nothing a command line could take for an option."""
    return secrets.token_hex(32)


SECRET_WAIT_SECONDS = 5.0


def ensure_secret(path: Path, *, variable: str) -> str:
    """Return the secret kept in ``path``, writing a new one if there is none yet.

    Processes starting together (``refundbot token`` twice, the gateway and the command line)
    must all end up with the same secret. The secret is written and synced in a file of this
    process's own, then hard-linked into place: the link succeeds for exactly one process and
    the file appears whole, so the others read the winner's secret.
    """
    existing = _read_secret(path)
    if existing is not None:
        return existing or _wait_for_secret(path, variable=variable)
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = _new_secret()
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secret + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(draft, path)
            return secret
        except FileExistsError:
            pass
    finally:
        draft.unlink(missing_ok=True)
    return _wait_for_secret(path, variable=variable)


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def _wait_for_secret(path: Path, *, variable: str) -> str:
    # A file another version of this code created and has not written yet reads empty.
    deadline = time.monotonic() + SECRET_WAIT_SECONDS
    while True:
        secret = _read_secret(path)
        if secret:
            return secret
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"{path} is empty: delete it to have a new secret generated, or set {variable}"
            )
        time.sleep(0.05)
