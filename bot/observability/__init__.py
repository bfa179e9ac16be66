"""What operators watch: Prometheus metrics (``/metrics``) and JSON logs, for every process we own.

:mod:`~bot.observability.metrics` defines the metrics and depends on nothing of the project, so the
gateway and the handoff call into it; :mod:`~bot.observability.backlogs` reads the queues from the
database at scrape time and :mod:`~bot.observability.http` serves ``/metrics``: only the gateway's
composition root imports those two. :mod:`~bot.observability.actions` does the same for the action
server, :mod:`~bot.observability.logs` writes the log lines.
"""
