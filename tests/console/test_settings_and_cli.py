from __future__ import annotations

import argparse
import datetime as dt
import io
from pathlib import Path

import pytest

from bot.console import cli
from bot.console.auth import BadCredentials, authenticate
from bot.console.throttle import backoff_seconds
from bot.handoff.hours import describe_hours, in_support_hours
from bot.refunds.db import get_sessionmaker
from bot.settings import ConfigError, ConsoleSettings, Settings

MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)


def test_support_hours_from_the_environment() -> None:
    console = Settings.from_env(
        {
            "REFUNDBOT_SUPPORT_HOURS": "09:00-17:30",
            "REFUNDBOT_SUPPORT_DAYS": "mon-fri",
            "REFUNDBOT_SUPPORT_TIMEZONE": "Europe/Lisbon",
            "REFUNDBOT_CONSOLE_SESSION_SECONDS": "3600",
            "REFUNDBOT_CONSOLE_SECURE_COOKIES": "true",
        }
    ).console
    assert console.support_days == (0, 1, 2, 3, 4)
    assert console.session_ttl_seconds == 3600
    assert console.secure_cookies is True
    assert in_support_hours(console, MONDAY_10)
    assert not in_support_hours(console, MONDAY_10.replace(hour=18))
    assert not in_support_hours(console, MONDAY_10 + dt.timedelta(days=5))
    assert describe_hours(console) == "Mon–Fri 09:00–17:30 (Europe/Lisbon)"
    assert in_support_hours(ConsoleSettings(), MONDAY_10 + dt.timedelta(days=6))
    assert Settings.from_env({"REFUNDBOT_SUPPORT_DAYS": "sat,sun"}).console.support_days == (5, 6)


def test_sign_in_throttling_from_the_environment() -> None:
    defaults = Settings.from_env({}).console
    assert defaults == ConsoleSettings()
    assert (
        defaults.signin_address_failures,
        defaults.signin_address_window_seconds,
        defaults.signin_account_free_failures,
        defaults.signin_account_max_delay_seconds,
        defaults.signin_account_window_seconds,
        defaults.known_device_days,
    ) == (20, 900, 5, 300, 86400, 30)
    console = Settings.from_env(
        {
            "REFUNDBOT_SIGNIN_ADDRESS_FAILURES": "50",
            "REFUNDBOT_SIGNIN_ADDRESS_WINDOW_SECONDS": "600",
            "REFUNDBOT_SIGNIN_ACCOUNT_FREE_FAILURES": "3",
            "REFUNDBOT_SIGNIN_ACCOUNT_MAX_DELAY_SECONDS": "60",
            "REFUNDBOT_SIGNIN_ACCOUNT_WINDOW_SECONDS": "3600",
            "REFUNDBOT_CONSOLE_KNOWN_DEVICE_DAYS": "0",
        }
    ).console
    assert (
        console.signin_address_failures,
        console.signin_address_window_seconds,
        console.signin_account_free_failures,
        console.signin_account_max_delay_seconds,
        console.signin_account_window_seconds,
        console.known_device_days,
    ) == (50, 600, 3, 60, 3600, 0)
    # After the free failures: 1 s, 2 s, 4 s ... up to the cap.
    waits = [backoff_seconds(n, defaults) for n in range(4, 16)]
    assert waits == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert backoff_seconds(10**6, defaults) == 300


@pytest.mark.parametrize(
    "name",
    [
        "REFUNDBOT_SIGNIN_ADDRESS_FAILURES",
        "REFUNDBOT_SIGNIN_ADDRESS_WINDOW_SECONDS",
        "REFUNDBOT_SIGNIN_ACCOUNT_MAX_DELAY_SECONDS",
        "REFUNDBOT_SIGNIN_ACCOUNT_WINDOW_SECONDS",
    ],
)
def test_sign_in_limits_cannot_be_zero(name: str) -> None:
    # Zero would refuse every sign-in, or switch a limit off.
    with pytest.raises(ConfigError, match=f"{name} must not be less than 1"):
        Settings.from_env({name: "0"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REFUNDBOT_SUPPORT_HOURS", "9 to 5"),
        ("REFUNDBOT_SUPPORT_HOURS", "25:00-26:00"),
        ("REFUNDBOT_SUPPORT_DAYS", "weekdays"),
        ("REFUNDBOT_SUPPORT_TIMEZONE", "Mars/Olympus"),
    ],
)
def test_bad_console_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def run(settings: Settings, argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status: int = args.handler(settings, args)
    return status


def test_agent_add_and_list(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(var_dir=tmp_path, database_url=db_url)
    password = "a long enough password"
    argv = ["agent", "add", "ana", "--role", "admin", "--display-name", "Ana P."]
    assert run(settings, argv, password + "\n", monkeypatch) == 0
    assert "agent ana (admin) added" in capsys.readouterr().out
    assert run(settings, ["agent", "add", "ana"], password + "\n", monkeypatch) == 1
    assert run(settings, ["agent", "add", "bob"], "short\n", monkeypatch) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert run(settings, ["agent", "add", "Bad Name!"], password + "\n", monkeypatch) == 2
    assert run(settings, ["agent", "list"], "", monkeypatch) == 0
    assert capsys.readouterr().out == "ana\tadmin\tAna P.\tactive\n"
    with get_sessionmaker(db_url).begin() as session:
        assert authenticate(session, name="ANA", password=password).display_name == "Ana P."
        with pytest.raises(BadCredentials):
            authenticate(session, name="ana", password=password + "x")
