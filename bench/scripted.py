"""Scripted buyer conversations (``tests/scripted/*.yml``) played against the real stack.

A script is data::

    - name: return_and_refund_for_a_delivered_lamp
      covers: [return_and_refund, buttons]
      buyer: own            # a fresh buyer owning copies of the demo orders; or: anonymous
      turns:
        - say: "hi, I'd like a refund for the desk lamp from order {LAMP}"
          expect: ["Immediate refund isn't available"]    # all must appear (case-insensitive)
          buttons: ["Return and refund"]                  # all offered (title or its start)
        - press: "Return and refund"
          expect: "Up to 42.50 USD can be refunded"
      store:                 # the buyer's applications afterwards, oldest first; [] = none
        - {order: LAMP, method: return_and_refund, status: pending_review, amount: "42.50"}

``{LAMP}``, ``{EMAIL}`` … are the buyer's own order numbers and e-mail (see
:mod:`bench.accounts`). A conversation passes when every turn shows what it expects and
the refund store then holds exactly the applications listed; otherwise the report names the
first turn that diverged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlalchemy.orm import sessionmaker

from bench.accounts import Account, StoredApplication, create_accounts, stored_applications
from bench.client import (
    NO_ANSWER,
    Buyer,
    NoSuchButton,
    Turn,
    WidgetBuyer,
)
from bot.clock import utcnow
from bot.gateway.identity import make_token

_VARIABLE = re.compile(r"\{([A-Z_]+)\}")
SILENCE_SECONDS = 3.0
# Long enough for a loaded machine, short enough that a bot that never answers fails quickly.
SCRIPT_TURN_SECONDS = 20.0
STORE_FIELDS = ("order", "method", "status", "amount", "compensation", "reason_category")


class ScriptError(ValueError):
    """A script file is malformed; the message names the file and the conversation."""


@dataclasses.dataclass(frozen=True)
class Step:
    """One buyer action and what the bot must answer."""

    say: str | None
    press: str | None
    expect: tuple[str, ...]
    expect_not: tuple[str, ...]
    buttons: tuple[str, ...]
    silent: bool = False
    """The bot must not answer (a person owns the conversation): wait briefly, expect nothing."""

    @property
    def shown(self) -> str:
        """Return the step as a person reads it."""
        return f"say {self.say!r}" if self.say is not None else f"press [{self.press}]"


@dataclasses.dataclass(frozen=True)
class Script:
    """A whole scripted conversation."""

    name: str
    source: str
    covers: tuple[str, ...]
    anonymous: bool
    steps: tuple[Step, ...]
    store: tuple[dict[str, str], ...] | None
    bench: bool


@dataclasses.dataclass
class Outcome:
    """The result of playing one script."""

    script: Script
    path: str
    turns: list[Turn] = dataclasses.field(default_factory=list)
    diverged_at: int | None = None
    problem: str = ""

    @property
    def passed(self) -> bool:
        """Return whether every turn and the store matched."""
        return not self.problem

    def describe(self) -> str:
        """Return one paragraph saying where and how the conversation diverged."""
        if self.passed:
            return f"{self.script.name}: passed"
        if self.diverged_at is None:
            return f"{self.script.name}: {self.problem}"
        step = self.script.steps[self.diverged_at]
        got = self.turns[self.diverged_at].text if self.diverged_at < len(self.turns) else ""
        return (
            f"{self.script.name}: turn {self.diverged_at + 1} ({step.shown}): {self.problem}\n"
            f"    bot said: {got!r}"
        )


def load_scripts(paths: Sequence[Path]) -> list[Script]:
    """Read every script in ``paths`` (files or directories of ``*.yml``).

    Raises:
        ScriptError: a script is malformed, or two share a name.
    """
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yml")) if path.is_dir() else [path])
    scripts: list[Script] = []
    for file in files:
        raw = yaml.safe_load(file.read_text())
        if not isinstance(raw, list):
            raise ScriptError(f"{file}: expected a list of conversations")
        scripts.extend(_script(item, file.name) for item in raw)
    names = [s.name for s in scripts]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ScriptError(f"conversation names used twice: {sorted(duplicates)}")
    return scripts


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ScriptError(f"{where}: expected a string or a list of strings")


def _script(item: Any, source: str) -> Script:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ScriptError(f"{source}: every conversation needs a name")
    where = f"{source}: {item['name']}"
    steps: list[Step] = []
    for number, turn in enumerate(item.get("turns") or [], start=1):
        if not isinstance(turn, dict) or ("say" in turn) == ("press" in turn):
            raise ScriptError(f"{where}, turn {number}: give exactly one of say / press")
        unknown = set(turn) - {"say", "press", "expect", "expect_not", "buttons", "silent"}
        if unknown:
            raise ScriptError(f"{where}, turn {number}: unknown keys {sorted(unknown)}")
        steps.append(
            Step(
                say=str(turn["say"]) if "say" in turn else None,
                press=str(turn["press"]) if "press" in turn else None,
                expect=_strings(turn.get("expect"), f"{where}, turn {number}"),
                expect_not=_strings(turn.get("expect_not"), f"{where}, turn {number}"),
                buttons=_strings(turn.get("buttons"), f"{where}, turn {number}"),
                silent=bool(turn.get("silent", False)),
            )
        )
    if not steps:
        raise ScriptError(f"{where}: no turns")
    store = item.get("store")
    if store is not None:
        if not isinstance(store, list) or not all(isinstance(a, dict) for a in store):
            raise ScriptError(f"{where}: store must be a list of applications")
        for application in store:
            unknown = set(application) - {*STORE_FIELDS, "reason_contains"}
            if unknown or "order" not in application:
                raise ScriptError(f"{where}: store entries need order, know {STORE_FIELDS}")
    buyer = item.get("buyer", "own")
    if buyer not in ("own", "anonymous"):
        raise ScriptError(f"{where}: buyer must be own or anonymous")
    return Script(
        name=item["name"],
        source=source,
        covers=_strings(item.get("covers"), where),
        anonymous=buyer == "anonymous",
        steps=tuple(steps),
        store=None if store is None else tuple({k: str(v) for k, v in a.items()} for a in store),
        bench=bool(item.get("bench", False)),
    )


def fill(text: str, variables: dict[str, str]) -> str:
    """Replace ``{NAME}`` with the buyer's value; leave other braces (``/inform{...}``) alone."""
    return _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


async def play(script: Script, buyer: Buyer, account: Account) -> Outcome:
    """Play ``script`` through ``buyer``; stop at the first turn that diverges."""
    outcome = Outcome(script=script, path=buyer.path)
    variables = account.variables()
    for index, step in enumerate(script.steps):
        try:
            if step.say is not None:
                wait = SILENCE_SECONDS if step.silent else SCRIPT_TURN_SECONDS
                turn = await buyer.say(fill(step.say, variables), wait=wait)
            else:
                assert step.press is not None
                turn = await buyer.press(fill(step.press, variables), wait=SCRIPT_TURN_SECONDS)
        except NoSuchButton as e:
            outcome.diverged_at, outcome.problem = index, str(e)
            return outcome
        if step.silent and turn.error and turn.error.startswith(NO_ANSWER):
            turn.error = None
        outcome.turns.append(turn)
        problem = check_turn(step, turn, variables)
        if problem:
            outcome.diverged_at, outcome.problem = index, problem
            return outcome
    return outcome


def check_turn(step: Step, turn: Turn, variables: dict[str, str]) -> str:
    """Return what is wrong with ``turn`` given ``step``, or ``""``."""
    if turn.error:
        return turn.error
    if step.silent and turn.replies:
        return "expected no answer while a person owns the conversation"
    said = turn.text.casefold()
    missing = [e for e in step.expect if fill(e, variables).casefold() not in said]
    if missing:
        return f"expected {missing}"
    unwanted = [e for e in step.expect_not if fill(e, variables).casefold() in said]
    if unwanted:
        return f"did not expect {unwanted}"
    # A title matches exactly or as the start of an offered one ("No-return refund" matches
    # "No-return refund (up to 20.00 USD)"), as pressing does.
    offered = [b.strip().casefold() for b in turn.buttons]
    absent = [
        b
        for b in step.buttons
        if not any(o.startswith(fill(b, variables).strip().casefold()) for o in offered)
    ]
    if absent:
        return f"expected buttons {absent}, offered {turn.buttons}"
    return ""


def check_store(outcome: Outcome, sessions: sessionmaker, account: Account) -> None:
    """Compare the buyer's stored applications with the script's ``store``; record a problem."""
    expected = outcome.script.store
    if expected is None or not outcome.passed:
        return
    with sessions.begin() as session:
        found = stored_applications(session, account=account)
    problem = compare_store(expected, found)
    if problem:
        outcome.problem = f"refund store: {problem}"


def compare_store(expected: Sequence[dict[str, str]], found: list[StoredApplication]) -> str:
    """Return how the stored applications differ from the expected ones, or ``""``."""
    if len(expected) != len(found):
        shown = [(a.order, a.method, a.status, str(a.amount)) for a in found]
        return f"expected {len(expected)} application(s), found {len(found)}: {shown}"
    for want, got in zip(expected, found, strict=True):
        for name in STORE_FIELDS:
            if name not in want:
                continue
            value = getattr(got, name)
            if isinstance(value, Decimal):
                same = value == Decimal(want[name])
            else:
                same = str(value) == want[name]
            if not same:
                return f"{want['order']}: {name} is {value}, expected {want[name]}"
        if "reason_contains" in want and want["reason_contains"].casefold() not in (
            got.reason.casefold()
        ):
            return f"{want['order']}: reason {got.reason!r} lacks {want['reason_contains']!r}"
    return ""


async def run_scripts(
    scripts: Sequence[Script],
    *,
    ws_url: str,
    shop_secret: str,
    sessions: sessionmaker,
    first_account: int = 1,
    concurrency: int = 4,
    quiet_seconds: float = 0.75,
) -> list[Outcome]:
    """Play every script through the web widget, each as a new buyer; check the store after.

    Buyers are created in the refund store behind ``sessions`` (the stack's own database).
    """
    with sessions.begin() as session:
        accounts = create_accounts(
            session, first=first_account, count=len(scripts), now=utcnow(), prefix="e"
        )
    limit = asyncio.Semaphore(concurrency)

    async def one(script: Script, account: Account, http: aiohttp.ClientSession) -> Outcome:
        async with limit:
            token = None if script.anonymous else make_token(shop_secret, account.customer_id, 3600)
            try:
                buyer = await WidgetBuyer.connect(
                    http, ws_url, token=token, quiet_seconds=quiet_seconds
                )
            except (ConnectionError, aiohttp.ClientError) as e:
                return Outcome(script=script, path="gateway", problem=f"could not connect: {e}")
            try:
                outcome = await play(script, buyer, account)
            finally:
                await buyer.close()
            await asyncio.to_thread(check_store, outcome, sessions, account)
            return outcome

    async with aiohttp.ClientSession() as http:
        return list(
            await asyncio.gather(*(one(s, a, http) for s, a in zip(scripts, accounts, strict=True)))
        )
