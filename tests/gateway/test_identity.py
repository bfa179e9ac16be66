from __future__ import annotations

import time

import pytest

from bot.gateway import identity

SECRET = "s3cret"


def test_token_round_trip() -> None:
    token = identity.make_token(SECRET, "c-1001", ttl_seconds=60)
    assert identity.verify_token(SECRET, token) == "c-1001"


def test_customer_id_with_dots_round_trips() -> None:
    token = identity.make_token(SECRET, "shop.eu.c-7")
    assert identity.verify_token(SECRET, token) == "shop.eu.c-7"


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", "!!!.???", identity.make_token("other-secret", "c-1001")],
    # Fixed ids: the signed token holds the time it was made, and pytest-xdist's workers must
    # collect the same test names.
    ids=["empty", "garbage", "three-parts", "not-base64", "other-secret"],
)
def test_bad_tokens_are_rejected(token: str) -> None:
    with pytest.raises(identity.InvalidToken):
        identity.verify_token(SECRET, token)


def test_tampered_customer_is_rejected() -> None:
    token = identity.make_token(SECRET, "c-1001")
    _, signature = token.split(".")
    forged = identity.make_token(SECRET, "c-1002").split(".")[0] + "." + signature
    with pytest.raises(identity.InvalidToken, match="signature"):
        identity.verify_token(SECRET, forged)


def test_expired_token_is_rejected() -> None:
    token = identity.make_token(SECRET, "c-1001", ttl_seconds=10)
    with pytest.raises(identity.InvalidToken, match="expired"):
        identity.verify_token(SECRET, token, now=time.time() + 11)


def test_start_parameter_fits_telegram_and_round_trips() -> None:
    parameter = identity.make_start_parameter(SECRET, "c-1001")
    assert len(parameter) <= 64
    assert set(parameter) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    assert identity.verify_start_parameter(SECRET, parameter) == "c-1001"


def test_start_parameter_rejects_forgery_and_expiry() -> None:
    parameter = identity.make_start_parameter(SECRET, "c-1001", ttl_seconds=5)
    with pytest.raises(identity.InvalidToken):
        identity.verify_start_parameter("other", parameter)
    with pytest.raises(identity.InvalidToken, match="expired"):
        identity.verify_start_parameter(SECRET, parameter, now=time.time() + 6)
    with pytest.raises(identity.InvalidToken):
        identity.verify_start_parameter(SECRET, "short")


def test_signed_values() -> None:
    signed = identity.sign_value(SECRET, "p", "web-abc")
    assert identity.unsign_value(SECRET, "p", signed) == "web-abc"
    with pytest.raises(identity.InvalidToken):
        identity.unsign_value(SECRET, "other-purpose", signed)
    with pytest.raises(identity.InvalidToken):
        identity.unsign_value(SECRET, "p", "web-abd" + signed[7:])
