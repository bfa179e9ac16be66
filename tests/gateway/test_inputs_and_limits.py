"""The shared input checks, the rate limits and their settings, on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.gateway import inputs
from bot.gateway.inputs import InvalidInput
from bot.gateway.ratelimit import RateLimits
from bot.settings import ConfigError, Settings, normal_origin


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        (12, "empty"),
        ("x" * 11, "too_long"),
        ("a\x00b", "bad_characters"),
        ("a\ud800b", "bad_characters"),
        ("\udfff", "bad_characters"),
    ],
)
def test_text_that_cannot_be_kept_is_refused_with_a_reason(value: object, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        inputs.check_text(value, max_chars=10)
    assert refused.value.code == code
    assert str(refused.value)


def test_text_a_person_writes_is_kept_stripped() -> None:
    assert inputs.check_text("  héllo 👋 \t", max_chars=20) == "héllo 👋"
    assert inputs.check_text("", max_chars=5, required=False) == ""
    # A pair of surrogates as JSON escapes is one character, not a lone surrogate.
    assert inputs.check_text(json.loads('"\\ud83d\\udc4b"'), max_chars=5) == "👋"


@pytest.mark.parametrize("value", [0, -1, 2**63, True, 1.0, "1", None])
def test_ids_out_of_the_databases_range_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput):
        inputs.check_id(value)


def test_ids_and_path_ids() -> None:
    assert inputs.check_id(2**63 - 1) == 2**63 - 1
    assert inputs.parse_id("42") == 42
    for raw in ("", "0", "-1", "²", "٣", "9223372036854775808", "1" * 30, "4 2"):
        assert inputs.parse_id(raw) is None, raw


def test_path_keys() -> None:
    assert inputs.readable_key("web-0123abc")
    for raw in ("", "x" * 129, "a\x00", "\udced\udca0"):
        assert not inputs.readable_key(raw)


def test_json_is_parsed_only_when_shallow() -> None:
    assert inputs.loads(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    assert inputs.loads("[" * 32 + "]" * 32) is not None
    for raw in ("[" * 33 + "]" * 33, "[" * 100_000 + "]" * 100_000, "nope", b"\xff", "1" * 5000):
        with pytest.raises(InvalidInput):
            inputs.loads(raw)
    assert inputs.depth({"a": {"b": [1, [2]]}}) == 4
    assert inputs.depth(3) == 0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_sender_may_burst_then_refills_and_is_told_once_a_window() -> None:
    clock = Clock()
    limits = RateLimits(per_sender=3, per_address=0, seconds=30, clock=clock)
    assert [limits.check("web-1").allowed for _ in range(3)] == [True, True, True]
    refused = [limits.check("web-1") for _ in range(5)]
    assert [v.allowed for v in refused] == [False] * 5
    assert [v.tell for v in refused] == [True, False, False, False, False]
    assert limits.check("web-2").allowed  # others are not held back
    clock.now += 10  # one message's worth (30 s / 3) comes back
    assert limits.check("web-1").allowed
    assert not limits.check("web-1").allowed
    clock.now += 31
    assert limits.check("web-1").allowed
    clock.now += 0.1
    for _ in range(2):
        limits.check("web-1")
    verdict = limits.check("web-1")
    assert (verdict.allowed, verdict.tell) == (False, True)  # a new window, a new notice


def test_an_address_is_limited_across_its_senders_and_refusals_cost_nothing() -> None:
    clock = Clock()
    limits = RateLimits(per_sender=5, per_address=3, seconds=30, clock=clock)
    assert [limits.check(f"web-{i}", "10.0.0.1").allowed for i in range(3)] == [True] * 3
    assert not limits.check("web-9", "10.0.0.1").allowed
    assert limits.check("web-9", "10.0.0.2").allowed
    # The refused message took nothing from web-9's own allowance.
    assert [limits.check("web-9").allowed for _ in range(4)] == [True] * 4
    assert not limits.check("web-9").allowed


def test_zero_is_no_limit_and_memory_is_bounded() -> None:
    clock = Clock()
    unlimited = RateLimits(per_sender=0, per_address=0, seconds=30, clock=clock)
    assert all(unlimited.check("web-1", "10.0.0.1").allowed for _ in range(1000))
    limits = RateLimits(per_sender=1, per_address=0, seconds=30, clock=clock, max_keys=100)
    for i in range(1000):
        limits.check(f"web-{i}")
    assert len(limits._buckets) <= 100
    clock.now += 31
    for _ in range(200):
        limits.check("web-x")
    assert len(limits._buckets) <= 100


def test_origins_and_rate_limits_from_the_environment(tmp_path: Path) -> None:
    gateway = Settings.from_env(
        {
            "REFUNDBOT_VAR_DIR": str(tmp_path),
            "REFUNDBOT_ALLOWED_ORIGINS": "https://Shop.Example, http://localhost:8000/ ,",
            "REFUNDBOT_RATE_LIMIT_MESSAGES": "5",
            "REFUNDBOT_RATE_LIMIT_ADDRESS_MESSAGES": "0",
            "REFUNDBOT_RATE_LIMIT_SECONDS": "10",
        }
    ).gateway
    assert gateway.allowed_origins == ("https://shop.example", "http://localhost:8000")
    assert (gateway.rate_limit_messages, gateway.rate_limit_address_messages) == (5, 0)
    assert gateway.rate_limit_seconds == 10
    defaults = Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path)}).gateway
    assert defaults.allowed_origins == ()
    assert (defaults.rate_limit_messages, defaults.rate_limit_seconds) == (20, 30)
    for bad in ("shop.example", "https://shop.example/path", "*", "null", "ftp://x"):
        with pytest.raises(ConfigError, match="REFUNDBOT_ALLOWED_ORIGINS"):
            Settings.from_env(
                {"REFUNDBOT_VAR_DIR": str(tmp_path), "REFUNDBOT_ALLOWED_ORIGINS": bad}
            )


def test_origins_are_compared_as_browsers_send_them() -> None:
    assert normal_origin("https://shop.example:443") == "https://shop.example"
    assert normal_origin("http://shop.example:8080") == "http://shop.example:8080"
    assert normal_origin("http://[::1]:3000") == "http://[::1]:3000"
    assert normal_origin("https://shop.example\x00") is None
