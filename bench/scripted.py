"""Scripted buyer conversations (``tests/scripted/*.yml``) played against the real stack.

A script is data::

    - name: return_and_refund_for_a_delivered_lamp
      covers: [return_and_refund, buttons]
      buyer: own            # a fresh buyer owning copies of the demo orders; or: anonymous
      channel: widget       # or: telegram (the gateway's Telegram channel, Bot API double)
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

A turn is one of:

* ``say: "text"``: the buyer types; ``press: "title"``: the buyer presses a button of the last
  answer (on Telegram an inline button, by callback query).
* ``rejoin: true``: the buyer leaves and comes back later to the same chat (the widget closes
  its socket and says hello again with its signed session; a Telegram chat just goes on). The
  turn fails when the chat is not the same conversation any more.
* ``agent: take | say | hand_back | close``: a support agent acts in the console (signed in
  through its real form): ``take`` claims the conversation (from the queue, or from the bot),
  ``say`` sends ``text:``, ``hand_back`` returns it to the bot with ``slots:`` it learned (e.g.
  ``{order_id: "{LAMP}"}``; the form goes on from there), ``close`` ends it. ``expect`` is then
  checked against what the buyer received meanwhile (the notices, the agent's words, the bot's
  next question).

Every turn may carry ``expect`` / ``expect_not`` (strings that must / must not appear),
``buttons`` and ``silent: true`` (nothing must come back: a person owns the conversation).

A Telegram buyer opens the chat with ``/start``; ``buyer: own`` opens it with the shop's signed
deep-link parameter, the product's way of linking a Telegram chat to a customer.
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
from bench.agent import AgentError, ConsoleAgent
from bench.client import (
    NO_ANSWER,
    Buyer,
    NoSuchButton,
    Turn,
    WidgetBuyer,
)
from bench.telegram import BotApiDouble, TelegramBuyer
from bot.clock import utcnow
from bot.gateway.identity import make_start_parameter, make_token

_VARIABLE = re.compile(r"\{([A-Z_]+)\}")
SILENCE_SECONDS = 3.0
# Long enough for a loaded machine, short enough that a bot that never answers fails quickly.
SCRIPT_TURN_SECONDS = 20.0
#: Telegram chat ids of scripted buyers: this plus the buyer's number.
TELEGRAM_CHATS = 700_000_000
STORE_FIELDS = ("order", "method", "status", "amount", "compensation", "reason_category")
#: Tags of conversations in which the buyer types freely (``make eval`` reports them apart).
FREE_TYPING = frozenset(
    {"digression", "correction", "typed_answer", "two_orders", "hand_back", "later_return"}
)
CHANNELS = ("widget", "telegram")
AGENT_ACTIONS = ("take", "say", "hand_back", "close")
_ACTIONS = ("say", "press", "agent", "rejoin")
_TURN_KEYS = {*_ACTIONS, "text", "slots", "expect", "expect_not", "buttons", "silent"}


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
    agent: str | None = None
    """A support agent's action instead of the buyer's: take, say, hand_back or close."""
    rejoin: bool = False
    """The buyer comes back later to the same chat (the widget: a new socket, same session)."""
    text: str = ""
    slots: tuple[tuple[str, str], ...] = ()

    @property
    def shown(self) -> str:
        """Return the step as a person reads it."""
        if self.agent is not None:
            said = f" {self.text!r}" if self.text else ""
            return f"agent {self.agent}{said}"
        if self.rejoin:
            return "come back to the chat"
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
    channel: str = "widget"

    @property
    def typed_freely(self) -> bool:
        """Return whether the buyer types freely (any of :data:`FREE_TYPING` in ``covers``)."""
        return bool(FREE_TYPING & set(self.covers))


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
        at = f"{where}, turn {number}"
        if not isinstance(turn, dict) or sum(k in turn for k in _ACTIONS) != 1:
            raise ScriptError(f"{at}: give exactly one of say / press / agent / rejoin")
        if "rejoin" in turn and (turn["rejoin"] is not True or set(turn) != {"rejoin"}):
            raise ScriptError(f"{at}: rejoin: true stands alone")
        unknown = set(turn) - _TURN_KEYS
        if unknown:
            raise ScriptError(f"{at}: unknown keys {sorted(unknown)}")
        agent = turn.get("agent")
        if agent is not None and agent not in AGENT_ACTIONS:
            raise ScriptError(f"{at}: agent must be one of {AGENT_ACTIONS}")
        if ("text" in turn) != (agent == "say"):
            raise ScriptError(f"{at}: text goes with (and only with) agent: say")
        slots = turn.get("slots") or {}
        if slots and agent != "hand_back" or not isinstance(slots, dict):
            raise ScriptError(f"{at}: slots go with agent: hand_back, as a mapping")
        steps.append(
            Step(
                say=str(turn["say"]) if "say" in turn else None,
                press=str(turn["press"]) if "press" in turn else None,
                expect=_strings(turn.get("expect"), at),
                expect_not=_strings(turn.get("expect_not"), at),
                buttons=_strings(turn.get("buttons"), at),
                silent=bool(turn.get("silent", False)),
                agent=agent,
                rejoin=bool(turn.get("rejoin", False)),
                text=str(turn.get("text", "")),
                slots=tuple((str(k), str(v)) for k, v in slots.items()),
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
    channel = item.get("channel", "widget")
    if channel not in CHANNELS:
        raise ScriptError(f"{where}: channel must be one of {CHANNELS}")
    unknown = set(item) - {"name", "covers", "buyer", "channel", "turns", "store", "bench"}
    if unknown:
        raise ScriptError(f"{where}: unknown keys {sorted(unknown)}")
    return Script(
        name=item["name"],
        source=source,
        covers=_strings(item.get("covers"), where),
        anonymous=buyer == "anonymous",
        steps=tuple(steps),
        store=None if store is None else tuple({k: str(v) for k, v in a.items()} for a in store),
        bench=bool(item.get("bench", False)),
        channel=channel,
    )


def fill(text: str, variables: dict[str, str]) -> str:
    """Replace ``{NAME}`` with the buyer's value; leave other braces (``/inform{...}``) alone."""
    return _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


async def play(
    script: Script, buyer: Buyer, account: Account, agent: ConsoleAgent | None = None
) -> Outcome:
    """Play ``script`` through ``buyer`` (and ``agent``); stop at the first turn that diverges."""
    outcome = Outcome(script=script, path=buyer.path)
    variables = account.variables()
    for index, step in enumerate(script.steps):
        try:
            if step.rejoin:
                turn = await buyer.rejoin()
            elif step.agent is not None:
                if agent is None:
                    raise AgentError("no agent console on this path")
                await agent.act(
                    step.agent,
                    buyer.conversation_id,
                    text=fill(step.text, variables),
                    slots={k: fill(v, variables) for k, v in step.slots},
                )
                wait = SILENCE_SECONDS if step.silent else SCRIPT_TURN_SECONDS
                turn = await buyer.listen(wait=wait)
                turn.sent = f"(agent {step.agent}) {fill(step.text, variables)}".strip()
            elif step.say is not None:
                wait = SILENCE_SECONDS if step.silent else SCRIPT_TURN_SECONDS
                turn = await buyer.say(fill(step.say, variables), wait=wait)
            else:
                assert step.press is not None
                turn = await buyer.press(fill(step.press, variables), wait=SCRIPT_TURN_SECONDS)
        except (NoSuchButton, AgentError) as e:
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
    gateway_url: str | None = None,
    bot_api: BotApiDouble | None = None,
) -> list[Outcome]:
    """Play every script as a new buyer (widget, or Telegram through ``bot_api``); check the store.

    Buyers are created in the refund store behind ``sessions`` (the stack's own database).
    With ``gateway_url`` an agent signs in to its console for the scripts' ``agent`` turns;
    Telegram scripts need both ``gateway_url`` and ``bot_api`` (the double the gateway uses).
    """
    with sessions.begin() as session:
        accounts = create_accounts(
            session, first=first_account, count=len(scripts), now=utcnow(), prefix="e"
        )
    limit = asyncio.Semaphore(concurrency)
    agent = None if gateway_url is None else ConsoleAgent(gateway_url, sessions)

    async def open_buyer(script: Script, account: Account, http: aiohttp.ClientSession) -> Buyer:
        token = None if script.anonymous else make_token(shop_secret, account.customer_id, 3600)
        if script.channel == "widget":
            return await WidgetBuyer.connect(http, ws_url, token=token, quiet_seconds=quiet_seconds)
        if bot_api is None or gateway_url is None:
            raise ConnectionError("Telegram conversations need the Bot API double")
        number = int(account.customer_id.rpartition("-")[2])
        start = None if script.anonymous else make_start_parameter(shop_secret, account.customer_id)
        return await TelegramBuyer.start(
            http,
            gateway_url=gateway_url,
            api=bot_api,
            chat_id=TELEGRAM_CHATS + number,
            start_parameter=start,
            quiet_seconds=max(quiet_seconds, 1.0),
        )

    async def one(script: Script, account: Account, http: aiohttp.ClientSession) -> Outcome:
        async with limit:
            try:
                buyer = await open_buyer(script, account, http)
            except (ConnectionError, aiohttp.ClientError) as e:
                return Outcome(
                    script=script, path=script.channel, problem=f"could not connect: {e}"
                )
            try:
                outcome = await play(script, buyer, account, agent)
            finally:
                await buyer.close()
            await asyncio.to_thread(check_store, outcome, sessions, account)
            return outcome

    try:
        async with aiohttp.ClientSession() as http:
            return list(
                await asyncio.gather(
                    *(one(s, a, http) for s, a in zip(scripts, accounts, strict=True))
                )
            )
    finally:
        if agent is not None:
            await agent.close()
