"""Signed buyer identity: tokens the shop makes for its widget and Telegram deep links.

A token is ``base64url(<customer_id>.<expiry>) + "." + base64url(<signature>)`` (no padding),
where the signature is HMAC-SHA256 with the shared shop secret over ``<customer_id>.<expiry>`` and
the expiry is a Unix time in seconds. A shop computes one in three lines of any language; in
Python::

    payload = f"{customer_id}.{int(time.time()) + 3600}"
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    token = b64url(payload) + "." + b64url(sig)

Telegram allows a ``/start`` parameter of at most 64 characters of ``A-Za-z0-9_-`` (no ``.``), so
deep links carry the same fields in a compact binary form: :func:`make_start_parameter`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time

DEFAULT_TTL_SECONDS = 86400
# A /start parameter is at most 64 characters; 16 bytes of signature keep it short and are plenty
# (2**128 guesses) for a link that expires.
_START_SIG_BYTES = 16


class InvalidToken(Exception):
    """A token is malformed, forged or expired; the message says which, for logs only."""


def make_token(secret: str, customer_id: str, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> str:
    """Return a widget token that says "this is ``customer_id``" until ``ttl_seconds`` from now.

    Args:
        secret: The shared shop secret (``REFUNDBOT_SHOP_SECRET``).
        customer_id: The shop's id of the buyer.
        ttl_seconds: How long the token is valid.

    Returns:
        ``base64url(customer_id.expiry) + "." + base64url(hmac_sha256(secret, customer_id.expiry))``
    """
    if not customer_id:
        raise ValueError("customer_id must not be empty")
    payload = f"{customer_id}.{int(time.time()) + ttl_seconds}".encode()
    signature = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return f"{_b64encode(payload)}.{_b64encode(signature)}"


def verify_token(secret: str, token: str, *, now: float | None = None) -> str:
    """Return the customer id a widget token vouches for.

    Raises:
        InvalidToken: The token is malformed, its signature is wrong, or it has expired.
    """
    try:
        payload_part, signature_part = token.split(".")
        payload = _b64decode(payload_part)
        signature = _b64decode(signature_part)
    except ValueError as e:
        raise InvalidToken("malformed token") from e
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise InvalidToken("bad signature")
    customer_id, _, expiry = payload.decode("utf-8", "replace").rpartition(".")
    if not customer_id or not expiry.isdigit():
        raise InvalidToken("malformed payload")
    if int(expiry) < (time.time() if now is None else now):
        raise InvalidToken("expired")
    return customer_id


def make_start_parameter(
    secret: str, customer_id: str, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> str:
    """Return a Telegram ``/start`` parameter (≤ 64 chars of ``A-Za-z0-9_-``) for a deep link.

    Layout before base64url: 4-byte big-endian expiry, the customer id, then the first 16 bytes of
    HMAC-SHA256 over the two. Customer ids up to 28 bytes fit.
    """
    body = struct.pack(">I", int(time.time()) + ttl_seconds) + customer_id.encode()
    signature = hmac.new(secret.encode(), b"tg:" + body, hashlib.sha256).digest()
    parameter = _b64encode(body + signature[:_START_SIG_BYTES])
    if len(parameter) > 64:
        raise ValueError(f"customer id {customer_id!r} is too long for a Telegram deep link")
    return parameter


def verify_start_parameter(secret: str, parameter: str, *, now: float | None = None) -> str:
    """Return the customer id a ``/start`` parameter vouches for.

    Raises:
        InvalidToken: The parameter is malformed, forged or expired.
    """
    try:
        raw = _b64decode(parameter)
    except ValueError as e:
        raise InvalidToken("malformed start parameter") from e
    if len(raw) <= 4 + _START_SIG_BYTES:
        raise InvalidToken("malformed start parameter")
    body, signature = raw[:-_START_SIG_BYTES], raw[-_START_SIG_BYTES:]
    expected = hmac.new(secret.encode(), b"tg:" + body, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected[:_START_SIG_BYTES]):
        raise InvalidToken("bad signature")
    (expiry,) = struct.unpack(">I", body[:4])
    if expiry < (time.time() if now is None else now):
        raise InvalidToken("expired")
    return body[4:].decode("utf-8", "replace")


def sign_value(secret: str, purpose: str, value: str) -> str:
    """Return ``value`` with an HMAC for ``purpose`` appended (used for widget session ids)."""
    mac = hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return f"{value}.{_b64encode(mac[:18])}"


def unsign_value(secret: str, purpose: str, signed: str) -> str:
    """Return the value :func:`sign_value` signed, or raise :class:`InvalidToken`."""
    value, _, _ = signed.rpartition(".")
    # Only ASCII can be compared in constant time; a signed value is always ASCII.
    if not value or not signed.isascii():
        raise InvalidToken("malformed")
    if not hmac.compare_digest(signed, sign_value(secret, purpose, value)):
        raise InvalidToken("bad signature")
    return value


def derived_secret(secret: str, purpose: str) -> str:
    """Return a hex secret derived from ``secret`` for ``purpose`` (e.g. the webhook secret)."""
    return hmac.new(secret.encode(), f"derive:{purpose}".encode(), hashlib.sha256).hexdigest()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or any(c not in _B64_ALPHABET for c in text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as e:
        raise ValueError("not base64url") from e


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
