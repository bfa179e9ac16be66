"""The scripted conversations of `make eval` are well-formed and cover what issue 5 asks."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from bench.accounts import DEMO_ORDERS, StoredApplication
from bench.client import NoSuchButton, Reply, find_button
from bench.load import percentile
from bench.scripted import compare_store, fill, load_scripts
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


def test_scripts_only_name_orders_that_exist() -> None:
    known = {*DEMO_ORDERS, "EMAIL", "CUSTOMER"}
    for script in SCRIPTS:
        for step in script.steps:
            for text in (step.say or "", *step.expect, *step.buttons):
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
