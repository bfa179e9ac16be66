"""The seams the code is built around, checked on the source so they cannot drift.

Each rule is in the README's "Where things live": the policy is pure, the gateway does not
reach up into the console, one function writes what buyers are sent, Rasa's handoff request is
read in one place, and no product file grows past what a maintainer can read in one sitting.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT

PRODUCT = [PROJECT_ROOT / "bot", PROJECT_ROOT / "actions"]
MAX_LINES = 500


def product_files() -> Iterator[Path]:
    for root in PRODUCT:
        yield from sorted(p for p in root.rglob("*.py") if "bench" not in p.parts)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def calls_of(name: str) -> Iterator[tuple[Path, int]]:
    """Yield where a function or method called ``name`` is called in the product."""
    for path in product_files():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called == name:
                yield path.relative_to(PROJECT_ROOT), node.lineno


def test_the_policy_imports_nothing_that_touches_a_database() -> None:
    probe = (
        "import sys, bot.refunds.policy, bot.refunds.reading, bot.contract, bot.messages; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'aiohttp', 'rasa', 'rasa_sdk', 'telegram')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    assert out.stdout.strip() == "[]"


def test_the_contract_depends_on_nothing_of_the_project() -> None:
    modules = imported_modules(PROJECT_ROOT / "bot" / "contract.py")
    assert not {m for m in modules if m.startswith(("bot", "actions"))}


@pytest.mark.parametrize(
    "path",
    [p for p in sorted((PROJECT_ROOT / "bot" / "gateway").glob("*.py")) if p.name != "app.py"],
    ids=lambda p: p.name,
)
def test_the_gateway_does_not_import_the_console_or_the_handoff(path: Path) -> None:
    """Only the composition root (``app.py``) sees the parts built on top of the gateway."""
    upward = {m for m in imported_modules(path) if m.startswith(("bot.console", "bot.handoff"))}
    assert upward == set()


def test_the_handoff_package_is_not_imported_by_what_it_builds_on() -> None:
    below = [PROJECT_ROOT / "bot" / d for d in ("gateway", "refunds", "channels")]
    offenders = [
        path.relative_to(PROJECT_ROOT)
        for root in below
        for path in root.glob("*.py")
        if path.name != "app.py"
        and any(m.startswith("bot.handoff") for m in imported_modules(path))
    ]
    assert offenders == []


def test_one_function_writes_outgoing_transcript_rows() -> None:
    assert [str(path) for path, _ in calls_of("record_outbound")] == ["bot/gateway/outbound.py"]


def test_rasa_handoff_requests_are_read_in_one_place() -> None:
    assert [str(path) for path, _ in calls_of("handoff_reason")] == ["bot/gateway/rasa.py"]


@pytest.mark.parametrize(
    "path", list(product_files()), ids=lambda p: str(p.relative_to(PROJECT_ROOT))
)
def test_no_product_file_is_too_long(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_measurement_tooling_is_not_imported_by_the_product() -> None:
    offenders = [
        path.relative_to(PROJECT_ROOT)
        for path in product_files()
        if any(
            m.split(".")[0] == "bench" or m.startswith("bot.bench") for m in imported_modules(path)
        )
    ]
    assert offenders == []


def test_the_shop_api_sits_on_the_store_and_the_gateway_only() -> None:
    """bot/api uses the refund store and the gateway's edge; nothing below imports it back."""
    api = PROJECT_ROOT / "bot" / "api"
    upward = {
        str(path.relative_to(PROJECT_ROOT)): sorted(
            m
            for m in imported_modules(path)
            if m.startswith(("bot.console", "bot.handoff", "bot.channels", "actions"))
        )
        for path in sorted(api.glob("*.py"))
    }
    assert {path: found for path, found in upward.items() if found} == {}
    below = [PROJECT_ROOT / d for d in ("bot/gateway", "bot/refunds", "bot/channels", "actions")]
    offenders = [
        path.relative_to(PROJECT_ROOT)
        for root in below
        for path in root.rglob("*.py")
        if path.name != "app.py" and any(m.startswith("bot.api") for m in imported_modules(path))
    ]
    assert offenders == []


def test_the_report_is_imported_only_by_the_console_and_the_command() -> None:
    """bot/insights reads the store's, gateway's and handoff's tables; none of them reads it."""
    below = [
        PROJECT_ROOT / d for d in ("bot/gateway", "bot/refunds", "bot/channels", "bot/handoff")
    ]
    below += [PROJECT_ROOT / "bot" / "api", PROJECT_ROOT / "actions"]
    offenders = [
        path.relative_to(PROJECT_ROOT)
        for root in below
        for path in root.rglob("*.py")
        if any(m.startswith("bot.insights") for m in imported_modules(path))
    ]
    assert offenders == []


def test_the_survey_is_reached_through_hooks_only() -> None:
    """bot/survey sits on the gateway; the router, handoff and notifier reach it by hooks."""
    below = [PROJECT_ROOT / d for d in ("bot/gateway", "bot/refunds", "bot/channels")]
    below += [PROJECT_ROOT / "bot" / "handoff", PROJECT_ROOT / "actions"]
    offenders = [
        path.relative_to(PROJECT_ROOT)
        for root in below
        for path in root.rglob("*.py")
        if path.name != "app.py" and any(m.startswith("bot.survey") for m in imported_modules(path))
    ]
    assert offenders == []
    upward = {
        m
        for path in (PROJECT_ROOT / "bot" / "survey").glob("*.py")
        for m in imported_modules(path)
        if m.startswith(("bot.console", "bot.handoff", "bot.insights", "bot.api", "actions"))
    }
    assert upward == set()


def test_the_metrics_depend_on_nothing_of_the_project() -> None:
    """The gateway and the handoff call into the metrics; the metrics never call back."""
    modules = imported_modules(PROJECT_ROOT / "bot" / "observability" / "metrics.py")
    assert not {m for m in modules if m.startswith(("bot", "actions"))}


def test_only_the_composition_root_wires_the_scrape_time_readers() -> None:
    """What reads every part's tables for /metrics is plugged in by the gateway's app.py only."""
    wiring = ("bot.observability.http", "bot.observability.backlogs")
    users = sorted(
        str(path.relative_to(PROJECT_ROOT))
        for path in product_files()
        if any(m.startswith(wiring) for m in imported_modules(path))
        and path.parent.name != "observability"
    )
    assert users == ["bot/gateway/app.py"]
