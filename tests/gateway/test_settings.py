from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import ConfigError, Settings, ensure_shop_secret


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
            "REFUNDBOT_DEMO_SHOP": "false",
        }
    )
    gateway = settings.gateway
    assert (gateway.host, gateway.port) == ("0.0.0.0", 9090)
    assert gateway.telegram_mode == "polling"
    assert gateway.telegram_api_url == "http://127.0.0.1:8081"
    assert gateway.telegram_webhook_secret == "a-B_9"
    assert gateway.upload_max_bytes == 1000
    assert gateway.demo_shop is False


def test_defaults(tmp_path: Path) -> None:
    gateway = Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path)}).gateway
    assert (gateway.host, gateway.port, gateway.telegram_mode) == ("127.0.0.1", 8080, "webhook")
    assert gateway.telegram_api_url == "https://api.telegram.org"
    assert gateway.demo_shop is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REFUNDBOT_TELEGRAM_MODE", "carrier-pigeon"),
        ("REFUNDBOT_TELEGRAM_WEBHOOK_SECRET", "has spaces"),
        ("REFUNDBOT_PORT", "eighty"),
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
