"""The conversation corpus of `make eval` is well formed and covers what the issues ask."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from bench import corpus
from bench.accounts import DEMO_ORDERS, StoredApplication
from bench.client import NoSuchButton, Reply, Turn, find_button
from bench.load import percentile
from bench.scripted import Outcome, ScriptError, compare_store, fill, load_scripts
from bench.telegram import plain_text, reply_of
from bot.settings import PROJECT_ROOT

SCRIPTS = load_scripts([PROJECT_ROOT / "tests" / "scripted"])


def test_at_least_thirty_conversations_covering_every_method_and_unhappy_path() -> None:
    assert len(SCRIPTS) >= 30
    covered = {c for s in SCRIPTS for c in s.covers}
    assert {"immediate_refund", "no_return_refund", "return_and_refund"} <= covered
    assert {"handoff_offer", "human_handoff", "typos", "stop", "order_not_found"} <= covered
    assert {"amount_exceeds_balance", "amount_zero", "amount_negative", "cancelled"} <= covered
    assert all(s.store is not None for s in SCRIPTS), "every conversation checks the store"
    assert any(s.bench for s in SCRIPTS)


def test_the_corpus_is_large_mostly_typed_freely_and_on_both_channels() -> None:
    assert len(SCRIPTS) >= 120
    free = [s for s in SCRIPTS if s.typed_freely]
    assert len(free) * 2 >= len(SCRIPTS)
    assert sum(s.channel == "telegram" for s in SCRIPTS) >= 10
    covered = {c for s in SCRIPTS for c in s.covers}
    assert corpus_tags() <= covered
    assert any(step.agent == "hand_back" for s in SCRIPTS for step in s.steps)
    assert any(step.rejoin for s in SCRIPTS if "later_return" in s.covers for step in s.steps)


def corpus_tags() -> set[str]:
    free = {"digression", "correction", "typed_answer", "two_orders", "hand_back", "later_return"}
    return free | {"out_of_scope", "nonsense", "return_tracking", "refund_reference", "withdraw"}


#: Each language's own conversations: their file and the tag on every one of them.
LANGUAGE_FILES = {"spanish": "spanish.yml", "russian": "russian.yml"}


@pytest.mark.parametrize("tag", sorted(LANGUAGE_FILES))
def test_each_language_has_twenty_conversations_covering_the_policy(tag: str) -> None:
    scripts = [s for s in SCRIPTS if s.source == LANGUAGE_FILES[tag]]
    assert len(scripts) >= 20
    assert all(tag in s.covers for s in scripts), "every conversation names its language"
    assert all(s.store is not None for s in scripts)
    assert sum(s.channel == "telegram" for s in scripts) >= 3
    covered = {c for s in scripts for c in s.covers}
    assert {"immediate_refund", "no_return_refund", "return_and_refund"} <= covered
    assert {"protection_window", "cancelled", "amount_exceeds_balance", "amount_zero"} <= covered
    assert {"amount_negative", "ask_refund_policy", "check_order_status"} <= covered
    assert {"human_handoff", "stop", "withdraw", "typos", "typed_answer", "amount_half"} <= covered
    assert all(s.steps[0].say for s in scripts), "the buyer's first words set the language"


@pytest.mark.parametrize("tag", sorted(LANGUAGE_FILES))
def test_money_is_expected_as_babel_writes_it(tag: str) -> None:
    # "12,00 US$", "120,00 €": a decimal comma and a no-break space before the currency.
    money = re.compile(r"\d[.,]\d{2}(\s?)(US\$|\$|€)")
    expected = [
        text
        for s in SCRIPTS
        if s.source == LANGUAGE_FILES[tag]
        for step in s.steps
        for text in (*step.expect, *step.buttons)
    ]
    found = [m for text in expected for m in money.finditer(text)]
    assert found
    assert all(m.group(1) == "\u00a0" and "," in m.group(0) for m in found), [
        m.group(0) for m in found
    ]
    assert not [t for t in expected if re.search(r"\d\.\d{2} (USD|EUR)", t)], "English money"


def test_every_known_failing_conversation_exists_and_says_why() -> None:
    known = corpus.read_known_failing()
    names = {s.name for s in SCRIPTS}
    assert set(known) <= names, sorted(set(known) - names)
    assert all(why for why in known.values()), "every known failure needs a # comment why"


def test_malformed_turns_are_refused(tmp_path: Path) -> None:
    bad = {
        "both": "[{name: a, turns: [{say: x, agent: take}]}]",
        "text_without_say": "[{name: a, turns: [{agent: take, text: hi}]}]",
        "slots_elsewhere": '[{name: a, turns: [{agent: take, slots: {order_id: "1"}}]}]',
        "unknown_agent": "[{name: a, turns: [{agent: dance}]}]",
        "unknown_channel": "[{name: a, channel: fax, turns: [{say: x}]}]",
        "unknown_key": "[{name: a, chanel: telegram, turns: [{say: x}]}]",
        "rejoin_with_words": "[{name: a, turns: [{rejoin: true, expect: hi}]}]",
    }
    for name, text in bad.items():
        path = tmp_path / f"{name}.yml"
        path.write_text(text)
        with pytest.raises(ScriptError):
            load_scripts([path])


def test_telegram_text_is_read_as_the_buyer_reads_it() -> None:
    assert plain_text(r"Up to 42\.50 USD \(all of it\)\!", "MarkdownV2") == (
        "Up to 42.50 USD (all of it)!"
    )
    assert plain_text("<b>Sam</b> &amp; co", "HTML") == "Sam & co"
    reply = reply_of(
        {
            "text": r"Order 1\-2",
            "parse_mode": "MarkdownV2",
            "reply_markup": '{"inline_keyboard": [[{"text": "Yes", "callback_data": "b:7:0"}]]}',
        }
    )
    assert (reply.text, reply.buttons, reply.payloads) == ("Order 1-2", ["Yes"], ["b:7:0"])


def test_a_failure_names_its_first_diverging_turn_and_the_ratchet_counts() -> None:
    [script] = [s for s in SCRIPTS if s.name == "typed_return_it_all_of_it_damaged_yes"]
    failed = Outcome(script, "gateway", [Turn("refund", [Reply("Which method?", ["Return"])]),
                                         Turn("I'll return it", [Reply("Sorry?", [])])],
                     diverged_at=1, problem="expected ['42.50 USD']")  # fmt: skip
    found = corpus.divergence(failed)
    assert (found.turn, found.said, found.shown) == (2, 'say "I\'ll return it"', "Sorry?")
    assert "'42.50 USD'" in found.expected
    passed = Outcome(SCRIPTS[0], "gateway")
    summary = corpus.summarize([failed, passed], {SCRIPTS[0].name: "why"})
    assert (summary.total, summary.passed, summary.free_total) == (2, 1, 1)
    assert summary.regressions == [script.name]
    assert summary.now_passing == [SCRIPTS[0].name]
    assert any("turn 2" in line for line in corpus.markdown(corpus.details([failed], {})))


def test_scripts_only_name_orders_that_exist() -> None:
    known = {*DEMO_ORDERS, "EMAIL", "CUSTOMER", "SHIRTS_REF"}
    for script in SCRIPTS:
        for step in script.steps:
            for text in (step.say or "", step.text, *step.expect, *step.buttons,
                         *(v for _, v in step.slots)):  # fmt: skip
                unknown = set(re.findall(r"\{([A-Z_]+)\}", text)) - known
                assert not unknown, f"{script.name}: {unknown}"
        for application in script.store or ():
            assert application["order"] in DEMO_ORDERS, script.name


def test_fill_leaves_rasa_payloads_alone() -> None:
    assert fill('/inform{"a":1} {LAMP}', {"LAMP": "1"}) == '/inform{"a":1} 1'


def test_a_button_is_found_by_its_title_or_a_unique_prefix() -> None:
    replies = [Reply("", ["No-return refund (up to 20.00 USD)", "Return and refund"], 7)]
    assert find_button(replies, "return and refund") == (replies[0], 1)
    assert find_button(replies, "No-return refund") == (replies[0], 0)
    with pytest.raises(NoSuchButton):
        find_button(replies, "Immediate refund")


def test_the_store_comparison_names_the_difference() -> None:
    found = [
        StoredApplication("LAMP", "return_and_refund", "pending_review", Decimal("42.50"),
                          Decimal("0"), "cracked", "damaged")
    ]  # fmt: skip
    assert compare_store([{"order": "LAMP", "amount": "42.5"}], found) == ""
    assert "status is pending_review" in compare_store(
        [{"order": "LAMP", "status": "refunded"}], found
    )
    assert "expected 0 application(s), found 1" in compare_store([], found)


def test_percentiles_use_the_nearest_rank() -> None:
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([3.0], 99) == 3.0
