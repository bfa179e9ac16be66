"""Run the gateway: ``python -m bot.gateway`` (settings from ``REFUNDBOT_*``)."""

from __future__ import annotations

import sys

from aiohttp import web

from bot.gateway.app import create_app
from bot.observability import logs
from bot.refunds.migrate import upgrade
from bot.settings import ConfigError, Settings


def main() -> int:
    """Build settings, bring the database up to date and serve until interrupted."""
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"refundbot gateway: {e}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format)
    upgrade(settings.database_url)
    host, port = settings.gateway.host, settings.gateway.port
    if settings.gateway.demo_shop:
        print(f"Demo shop (REFUNDBOT_DEMO_SHOP) and web chat: http://{host}:{port}/", flush=True)
    else:
        print(f"Web chat: http://{host}:{port}/widget.js", flush=True)
    web.run_app(create_app(settings), host=host, port=port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
