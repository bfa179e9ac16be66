"""The conversation corpus (``tests/scripted/*.yml``) played end to end, and what it measures.

:func:`run_corpus` starts the whole stack (actions, Rasa with the model under test, the gateway
with its Telegram channel pointed at a local Bot API double) and plays every conversation, widget
and Telegram ones side by side. :func:`summarize` gives the figures ``make eval`` reports: the
pass rate overall, of the conversations typed freely and on Telegram, and the ratchet:
``tests/scripted/known_failing.txt`` lists (one name a line, ``# why`` after it) the
conversations the assistant does not manage yet; every other one must pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path

from bench.scripted import Outcome, Script, run_scripts
from bench.stack import free_port, running_stack
from bench.telegram import gateway_env, serving_bot_api
from bot.refunds.db import get_sessionmaker
from bot.settings import PROJECT_ROOT

SCRIPTS_DIR = PROJECT_ROOT / "tests" / "scripted"
KNOWN_FAILING = SCRIPTS_DIR / "known_failing.txt"


def read_known_failing(path: Path = KNOWN_FAILING) -> dict[str, str]:
    """Return the conversations known to fail, each with the comment saying why."""
    if not path.exists():
        return {}
    known: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, _, why = line.partition("#")
        if name.strip():
            known[name.strip()] = why.strip()
    return known


def run_corpus(
    scripts: Sequence[Script], *, model: Path, concurrency: int = 6, keep: bool = False
) -> list[Outcome]:
    """Start the stack with Telegram through a Bot API double; play every script once.

    Raises:
        StackError: a process of the stack did not start.
    """
    with (
        serving_bot_api(free_port()) as bot_api,
        running_stack(model, keep=keep, service_env={"gateway": gateway_env(bot_api)}) as stack,
    ):
        return asyncio.run(
            run_scripts(
                scripts,
                ws_url=stack.widget_ws_url,
                shop_secret=stack.shop_secret,
                sessions=get_sessionmaker(stack.database_url),
                concurrency=concurrency,
                gateway_url=stack.gateway_url,
                bot_api=bot_api,
            )
        )


@dataclasses.dataclass(frozen=True)
class Divergence:
    """The first turn of a conversation that did not go as the script says."""

    name: str
    turn: int | None
    said: str
    expected: str
    shown: str
    problem: str

    def describe(self) -> str:
        """Return the divergence as a few lines a person reads."""
        if self.turn is None:
            return f"{self.name}: {self.problem}"
        return (
            f"{self.name}: turn {self.turn}: {self.said}\n"
            f"    expected: {self.expected}\n"
            f"    bot showed: {self.shown!r}\n"
            f"    problem: {self.problem}"
        )


def divergence(outcome: Outcome) -> Divergence:
    """Return where ``outcome`` first diverged: what was said, expected and shown."""
    name = outcome.script.name
    if outcome.diverged_at is None:
        expected = "the store as listed" if outcome.problem.startswith("refund store") else ""
        return Divergence(name, None, "", expected, "", outcome.problem)
    step = outcome.script.steps[outcome.diverged_at]
    wanted = [f"{e!r}" for e in step.expect]
    wanted += [f"not {e!r}" for e in step.expect_not]
    wanted += [f"button {b!r}" for b in step.buttons]
    if step.silent:
        wanted.append("no answer")
    shown = ""
    if outcome.diverged_at < len(outcome.turns):
        turn = outcome.turns[outcome.diverged_at]
        buttons = f" [{' | '.join(turn.buttons)}]" if turn.buttons else ""
        shown = turn.text + buttons
    elif outcome.diverged_at > 0 and outcome.diverged_at - 1 < len(outcome.turns):
        previous = outcome.turns[outcome.diverged_at - 1]
        shown = f"(last answer) {previous.text} [{' | '.join(previous.buttons)}]"
    return Divergence(
        name,
        outcome.diverged_at + 1,
        step.shown,
        ", ".join(wanted) or "an answer",
        shown,
        outcome.problem,
    )


@dataclasses.dataclass
class Summary:
    """The corpus's figures, and the ratchet's verdict."""

    total: int
    passed: int
    free_total: int
    free_passed: int
    telegram_total: int
    telegram_passed: int
    regressions: list[str]
    """Conversations not in known_failing.txt that failed: the ratchet fails."""
    now_passing: list[str]
    """Conversations in known_failing.txt that passed: the list can be shortened."""
    unknown_names: list[str]
    """Names in known_failing.txt that no conversation has."""

    @property
    def rate(self) -> float:
        """Return the share of conversations that passed."""
        return self.passed / self.total if self.total else 0.0


def summarize(outcomes: Sequence[Outcome], known_failing: dict[str, str]) -> Summary:
    """Count what passed, overall and by kind, and compare with the known failures."""
    free = [o for o in outcomes if o.script.typed_freely]
    telegram = [o for o in outcomes if o.script.channel == "telegram"]
    names = {o.script.name for o in outcomes}
    return Summary(
        total=len(outcomes),
        passed=sum(o.passed for o in outcomes),
        free_total=len(free),
        free_passed=sum(o.passed for o in free),
        telegram_total=len(telegram),
        telegram_passed=sum(o.passed for o in telegram),
        regressions=[
            o.script.name for o in outcomes if not o.passed and o.script.name not in known_failing
        ],
        now_passing=[
            o.script.name for o in outcomes if o.passed and o.script.name in known_failing
        ],
        unknown_names=sorted(set(known_failing) - names),
    )


def percent(part: int, whole: int) -> str:
    """Return ``part/whole (NN%)``."""
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "0/0"


def details(outcomes: Sequence[Outcome], known_failing: dict[str, str]) -> dict[str, object]:
    """Return the corpus's figures and every failure's first divergence, for ``eval.json``."""
    summary = summarize(outcomes, known_failing)
    return {
        **dataclasses.asdict(summary),
        "conversations": [
            {
                "name": o.script.name,
                "source": o.script.source,
                "channel": o.script.channel,
                "covers": list(o.script.covers),
                "typed_freely": o.script.typed_freely,
                "passed": o.passed,
                "known_failing": o.script.name in known_failing,
                "divergence": None if o.passed else dataclasses.asdict(divergence(o)),
            }
            for o in outcomes
        ],
    }


def markdown(found: dict[str, object]) -> list[str]:
    """Return eval.md's section on the corpus from :func:`details`' figures."""
    conversations = found["conversations"]
    assert isinstance(conversations, list)
    failed = [c for c in conversations if not c["passed"]]
    lines = [
        "",
        f"## Conversation corpus: {percent(len(conversations) - len(failed), len(conversations))}",
        "",
        "Add a conversation: a new entry in a `tests/scripted/*.yml` file (format: "
        "`bench/scripted.py`); list it in `tests/scripted/known_failing.txt` while the "
        "assistant cannot do it yet.",
    ]
    for key, title in (("regressions", "Failing but not in known_failing.txt (regressions)"),
                       ("now_passing", "Passing now: remove from known_failing.txt")):  # fmt: skip
        names = found[key]
        assert isinstance(names, list)
        if names:
            lines += ["", f"{title}:", ""] + [f"- `{n}`" for n in names]
    if failed:
        lines += ["", "First diverging turn of each failure (transcripts: scripted.md):", ""]
        for c in failed:
            d = c["divergence"]
            known = " (known)" if c["known_failing"] else ""
            if d["turn"] is None:
                lines.append(f"- `{c['name']}`{known} [{c['channel']}]: {d['problem']}")
                continue
            lines.append(
                f"- `{c['name']}`{known} [{c['channel']}]: turn {d['turn']}, {d['said']}; "
                f"expected {d['expected']}; the bot showed {_quote(d['shown'])}"
            )
    return lines


def _quote(text: str, limit: int = 300) -> str:
    flat = " ⏎ ".join(line for line in str(text).splitlines() if line.strip())
    return f"“{flat[:limit]}{'…' if len(flat) > limit else ''}”"


def transcripts(outcomes: Sequence[Outcome]) -> str:
    """Return the Markdown of every conversation's verdict, failures with their transcript."""
    lines = ["# Conversation corpus", ""]
    lines += [f"- {'PASS' if o.passed else 'FAIL'} `{o.script.name}` ({o.script.source}, "
              f"{o.script.channel})" for o in outcomes]  # fmt: skip
    for outcome in (o for o in outcomes if not o.passed):
        lines += ["", f"## {outcome.script.name}", "", "```", divergence(outcome).describe(), "",
                  "transcript:"]  # fmt: skip
        for index, turn in enumerate(outcome.turns, start=1):
            lines.append(f"  {index}. buyer: {turn.sent}")
            for reply in turn.replies:
                buttons = f"  [{' | '.join(reply.buttons)}]" if reply.buttons else ""
                lines.append(f"     bot:   {reply.text}{buttons}")
        lines.append("```")
    return "\n".join(lines) + "\n"
