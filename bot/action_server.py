"""Run the action server: ``python -m bot.action_server --port 5055`` (rasa-sdk's arguments).

It is rasa-sdk's own server (``python -m rasa_sdk``: the same app, routes and plugins) with
``/metrics`` and the measuring of each action added (:mod:`bot.observability.actions`), and the
log lines in ``REFUNDBOT_LOG_FORMAT``. It runs one Sanic worker, so one registry counts every
action; more throughput comes from more action servers behind Rasa, each scraped on its own.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from bot.observability import logs
from bot.observability.actions import ActionMetrics, attach
from bot.settings import ConfigError, Settings


def main(argv: Sequence[str] | None = None) -> int:
    """Build settings, load the actions and serve until interrupted."""
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"refundbot action server: {e}", file=sys.stderr)
        return 2
    # Before rasa-sdk is imported: what it and Sanic warn of on import is logged too.
    logs.configure(settings.log_format)
    from rasa_sdk.endpoint import create_app, create_argument_parser
    from rasa_sdk.plugin import plugin_manager

    args = create_argument_parser().parse_args(argv)
    logging.getLogger().setLevel(args.loglevel or logging.INFO)
    app = create_app(args.actions, cors_origins=args.cors, auto_reload=args.auto_reload)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    attach(app, ActionMetrics(), health_token=settings.gateway.health_token)
    # rasa-sdk's default; bot.run binds it to this machine.
    host = os.environ.get("SANIC_HOST", "0.0.0.0")
    app.run(host, args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
