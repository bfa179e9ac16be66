"""Log lines of the gateway and the action server: text by default, or one JSON object a line.

``REFUNDBOT_LOG_FORMAT=json`` writes each record as ``{"time", "level", "logger", "message"}``,
plus ``conversation_id`` whenever the record was made while a conversation was being handled
(:func:`conversation` sets it for a block of work, and asyncio tasks started inside it inherit
it), plus ``exception`` with the traceback when there is one. Log collectors (Loki, Elastic,
CloudWatch) read it without a parsing rule, and one conversation's lines can be found across
the gateway and the action server.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from typing import TextIO

TEXT = "text"
JSON = "json"
FORMATS = (TEXT, JSON)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: The conversation being handled by the current task, when there is one.
CONVERSATION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "refundbot_conversation_id", default=None
)


@contextlib.contextmanager
def conversation(conversation_id: str | None) -> Iterator[None]:
    """Tag every log line made inside the block (and tasks started in it) with the conversation."""
    token = CONVERSATION_ID.set(conversation_id)
    try:
        yield
    finally:
        CONVERSATION_ID.reset(token)


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON object on one line."""
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        conversation_id = getattr(record, "conversation_id", None) or CONVERSATION_ID.get()
        if conversation_id:
            line["conversation_id"] = conversation_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: str, *, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send the process's log records to ``stream`` (stderr) in ``log_format`` (text or json).

    Replaces the root logger's handlers, so libraries that set up their own (Sanic's, Rasa's)
    write through the same one, and sends Python's warnings there too.
    """
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == JSON else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
