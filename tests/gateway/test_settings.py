from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.gateway.identity import verify_token
from bot.settings import (
    PROJECT_ROOT,
    ConfigError,
    Settings,
    ensure_rasa_token,
    ensure_shop_secret,
)


def test_gateway_settings_from_env(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "REFUNDBOT_VAR_DIR": str(tmp_path),
            "REFUNDBOT_PORT": "9090",
            "REFUNDBOT_HOST": "0.0.0.0",
            "REFUNDBOT_TELEGRAM_TOKEN": "1:abc",
            "REFUNDBOT_TELEGRAM_MODE": "polling",
            "REFUNDBOT_TELEGRAM_API_URL": "http://127.0.0.1:8081/",
            "REFUNDBOT_TELEGRAM_WEBHOOK_URL": "https://bot.example",
            "REFUNDBOT_TELEGRAM_WEBHOOK_SECRET": "a-B_9",
            "REFUNDBOT_UPLOAD_MAX_BYTES": "1000",
            "REFUNDBOT_DEMO_SHOP": "true",
            "REFUNDBOT_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16",
            "REFUNDBOT_NOTIFY_RECENT_DAYS": "7",
            "REFUNDBOT_WEBHOOK_ALLOW_PRIVATE": "true",
            "REFUNDBOT_WEBHOOK_RETENTION_DAYS": "90",
        }
    )
    gateway = settings.gateway
    assert (gateway.host, gateway.port) == ("0.0.0.0", 9090)
    assert gateway.telegram_mode == "polling"
    assert gateway.telegram_api_url == "http://127.0.0.1:8081"
    assert gateway.telegram_webhook_secret == "a-B_9"
    assert gateway.upload_max_bytes == 1000
    assert gateway.demo_shop is True
    assert gateway.trusted_proxies == ("10.0.0.1/32", "192.168.0.0/16")
    assert gateway.notify_recent_days == 7
    assert gateway.webhook_allow_private is True
    assert gateway.webhook_retention_days == 90


def test_defaults(tmp_path: Path) -> None:
    gateway = Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path)}).gateway
    assert (gateway.host, gateway.port, gateway.telegram_mode) == ("127.0.0.1", 8080, "webhook")
    assert gateway.telegram_api_url == "https://api.telegram.org"
    # Safe by default: no page hands out identities, no forwarded address is believed.
    assert gateway.demo_shop is False
    assert gateway.trusted_proxies == ()
    assert gateway.notify_recent_days == 30
    # Webhooks reach nothing inside the network; what was sent is kept a month.
    assert gateway.webhook_allow_private is False
    assert gateway.webhook_retention_days == 30


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REFUNDBOT_TELEGRAM_MODE", "carrier-pigeon"),
        ("REFUNDBOT_TELEGRAM_WEBHOOK_SECRET", "has spaces"),
        ("REFUNDBOT_PORT", "eighty"),
        ("REFUNDBOT_DEMO_SHOP", "sure"),
        ("REFUNDBOT_TRUSTED_PROXIES", "10.0.0.1, the-proxy"),
        ("REFUNDBOT_NOTIFY_RECENT_DAYS", "0"),
        ("REFUNDBOT_WEBHOOK_ALLOW_PRIVATE", "maybe"),
        ("REFUNDBOT_WEBHOOK_RETENTION_DAYS", "0"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path), name: value})


def test_shop_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path)})
    secret = ensure_shop_secret(settings)
    assert len(secret) >= 32
    assert ensure_shop_secret(settings) == secret
    assert (tmp_path / "shop-secret").stat().st_mode & 0o777 == 0o600
    given = Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path), "REFUNDBOT_SHOP_SECRET": "x"})
    assert ensure_shop_secret(given) == "x"


def test_generated_secrets_never_look_like_a_command_line_option(tmp_path: Path) -> None:
    # token_urlsafe began with "-" once in 64 starts, and `rasa run --auth-token -x` fails.
    for n in range(500):
        token = ensure_rasa_token(Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path / str(n))}))
        assert not token.startswith("-"), token
        assert re.fullmatch(r"[0-9a-f]{64}", token), token
    assert (tmp_path / "0" / "rasa-token").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in (tmp_path / "0").iterdir()] == ["rasa-token"]


# Each process imports first and says so; then, round after round, all of them sleep until one
# moment and ask for the secrets of a fresh var dir at that moment.
AT_ONCE = """
import os, sys, time
from pathlib import Path
from bot.gateway.identity import make_token
from bot.settings import Settings, ensure_rasa_token, ensure_shop_secret

barrier, var_root, rounds = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
(barrier / str(os.getpid())).touch()
for n in range(rounds):
    at = barrier / f"at-{n}"
    while not at.exists():
        time.sleep(0.01)
    time.sleep(max(0.0, float(at.read_text()) - time.time()))
    settings = Settings.from_env({"REFUNDBOT_VAR_DIR": str(var_root / str(n))})
    print(n, make_token(ensure_shop_secret(settings), "c-1001"), ensure_rasa_token(settings))
"""


def test_processes_starting_together_share_one_secret(tmp_path: Path) -> None:
    barrier, var_root, rounds = tmp_path / "barrier", tmp_path / "var", 10
    barrier.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFUNDBOT_")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", AT_ONCE, str(barrier), str(var_root), str(rounds)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    deadline = time.monotonic() + 60
    while len(list(barrier.iterdir())) < len(processes):
        assert time.monotonic() < deadline, "the processes did not start"
        time.sleep(0.05)
    for n in range(rounds):
        at = barrier / f"at-{n}.tmp"
        at.write_text(str(time.time() + 0.3))
        at.rename(barrier / f"at-{n}")
        time.sleep(0.4)
    outputs = [p.communicate(timeout=60)[0].splitlines() for p in processes]
    assert [p.returncode for p in processes] == [0] * len(processes)

    for n in range(rounds):
        var_dir = var_root / str(n)
        secret = (var_dir / "shop-secret").read_text().strip()
        rasa_token = (var_dir / "rasa-token").read_text().strip()
        for output in outputs:
            round_, shop_token, token = output[n].split()
            assert int(round_) == n
            assert verify_token(secret, shop_token) == "c-1001"
            assert token == rasa_token
        assert sorted(p.name for p in var_dir.iterdir()) == ["rasa-token", "shop-secret"]


def test_token_commands_run_together_sign_with_the_secret_they_leave(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFUNDBOT_")}
    env["REFUNDBOT_VAR_DIR"] = str(tmp_path)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "token", "c-1001"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in processes]
    secret = (tmp_path / "shop-secret").read_text().strip()
    for output in outputs:
        token = re.search(r"widget token:\s+(\S+)", output)
        assert token is not None, output
        assert verify_token(secret, token[1]) == "c-1001"


def test_a_secret_file_still_being_written_is_waited_for(tmp_path: Path) -> None:
    secret_file = tmp_path / "shop-secret"
    secret_file.touch(mode=0o600)
    writer = threading.Timer(0.3, lambda: secret_file.write_text("written-meanwhile\n"))
    writer.start()
    try:
        settings = Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path)})
        assert ensure_shop_secret(settings) == "written-meanwhile"
    finally:
        writer.join()
