"""``refundbot nlu parse``: what the running stack understands of each buyer message.

Reads messages from standard input, one per line, and prints for each the language the
gateway tells for it (``bot.language_choice``, as for a conversation's first message), the
intent, its confidence and the entities, as the running Rasa servers (``REFUNDBOT_RASA_URL``)
parse it. ``--model`` parses with a model file in this process instead, when no stack runs.
Wired into :mod:`bot.cli` with ``bot.nlu_cli.register(actions)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

from bot.settings import Settings

Parser = Callable[[str], Awaitable[dict[str, Any]]]


def register(actions: Any) -> None:
    """Add ``parse`` to the ``refundbot nlu`` subcommands."""
    parse = actions.add_parser(
        "parse",
        help="print the language, intent, confidence and entities of messages read from stdin",
        description=(
            "Read buyer messages from standard input, one per line, and print for each the "
            "language the gateway tells for it (as for a conversation's first message: the "
            "language it answers in, and the one detected, which may be one we do not "
            "speak), the intent, its confidence and the entities, as the running Rasa "
            "servers (REFUNDBOT_RASA_URL, REFUNDBOT_RASA_TOKEN) parse it."
        ),
    )
    parse.add_argument("--json", action="store_true", help="one JSON object per line")
    parse.add_argument(
        "--model", type=Path, help="parse with this model file here instead of the running Rasa"
    )
    parse.set_defaults(handler=_parse)


def _parse(settings: Settings, args: argparse.Namespace) -> int:
    from bot.gateway.rasa import RasaUnavailable

    if args.model is not None and not args.model.is_file():
        print(f"refundbot: no model at {args.model}", file=sys.stderr)
        return 2

    async def run() -> None:
        async with _parser(settings, args.model) as parse:
            await parse_lines(sys.stdin, sys.stdout, parse, as_json=args.json)

    try:
        asyncio.run(run())
    except RasaUnavailable as e:
        print(f"refundbot: Rasa did not answer ({e}); is the stack running?", file=sys.stderr)
        return 1
    return 0


async def parse_lines(
    lines: Iterable[str], out: TextIO, parse: Parser, *, as_json: bool = False
) -> None:
    """Print what each non-blank line of ``lines`` is understood as, as soon as it is."""
    from bot.language_choice import Source, choose, detector
    from bot.languages import DEFAULT

    found = detector()
    for line in lines:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        choice = choose(DEFAULT, Source.DEFAULT, text=text, position=lambda: 1, detect=found)
        row = understood(text, await parse(text), language=choice.language)
        row["detected"] = found.detect(text)
        print(json.dumps(row, ensure_ascii=False) if as_json else _line(row), file=out)
        out.flush()


def understood(text: str, parsed: dict[str, Any], *, language: str) -> dict[str, Any]:
    """Return the fields printed for one message, from Rasa's parse of it."""
    intent = parsed.get("intent") or {}
    return {
        "text": text,
        "language": language,
        "intent": intent.get("name"),
        "confidence": round(float(intent.get("confidence") or 0.0), 3),
        "entities": [
            {key: e.get(key) for key in ("entity", "value", "start", "end")}
            for e in parsed.get("entities") or []
        ],
    }


def _line(row: dict[str, Any]) -> str:
    entities = " ".join(f"{e['entity']}={e['value']}" for e in row["entities"]) or "-"
    detected = row["detected"] or "-"
    return "\t".join(
        [row["language"], detected, str(row["intent"]), f"{row['confidence']:.3f}", entities,
         row["text"]]
    )  # fmt: skip


@asynccontextmanager
async def _parser(settings: Settings, model: Path | None) -> AsyncIterator[Parser]:
    if model is not None:
        from rasa.core.agent import Agent

        agent = Agent.load(str(model))

        async def parse_here(text: str) -> dict[str, Any]:
            parsed: dict[str, Any] = await agent.parse_message(text)
            return parsed

        yield parse_here
        return

    import aiohttp

    from bot.gateway.rasa import RasaClient
    from bot.settings import ensure_rasa_token

    async with aiohttp.ClientSession() as http:
        client = RasaClient(
            http, settings.rasa_servers, token=ensure_rasa_token(settings),
            timeout_seconds=settings.gateway.rasa_timeout_seconds,
        )  # fmt: skip
        yield client.parse
