"""Every query of the Grafana dashboard reads metrics the gateway and the action server export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.observability.actions import ActionMetrics
from bot.settings import PROJECT_ROOT
from tests.observability.scrape import scrape

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "refundbot.json"

#: The sample names each type of family exports (prometheus-client's, text format 0.0.4).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "untyped": ("",),
}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "and", "or", "unless", "le", "inf", "nan",
}  # fmt: skip


def exported(families: Iterable[Any]) -> set[str]:
    names: set[str] = set()
    for family in families:
        names.update(f"{family.name}{suffix}" for suffix in SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples if isinstance(sample, Sample))
    return names


def metric_names(expr: str) -> set[str]:
    """Return the metric names a PromQL expression selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values, legend strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word = match.group(0)
        followed = expr[match.end() :].lstrip()
        if followed.startswith("(") or word.lower() in PROMQL_WORDS or word.startswith("$"):
            continue
        if match.start() > 0 and expr[match.start() - 1] == "$":
            continue  # a dashboard variable
        names.add(word)
    return names


def queries(dashboard: dict[str, Any]) -> Iterator[str]:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found = re.fullmatch(r"label_values\((\w+),\s*\w+\)", variable["definition"])
            assert found, variable["definition"]
            yield found.group(1)


def test_the_query_parser_finds_the_metrics_and_nothing_else() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, channel) (rate(refundbot_turn_seconds_bucket"
        '{channel="webchat", outcome!="failed"}[5m]))) / on (instance) group_left max(up)'
    )
    assert metric_names(expr) == {"refundbot_turn_seconds_bucket", "up"}


async def test_every_dashboard_query_reads_an_exported_metric(gateway: TestClient) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    gateway_metrics = (await scrape(gateway)).text
    names = exported(text_string_to_metric_families(gateway_metrics))
    names |= exported(ActionMetrics().registry.collect())
    exprs = list(queries(dashboard))
    assert len(exprs) >= 15
    for expr in exprs:
        used = metric_names(expr)
        assert used, expr
        assert used <= names, (expr, used - names)
    # Each metric of ours is on the dashboard.
    shown = set().union(*(metric_names(expr) for expr in exprs))
    ours = {name for name in names if name.startswith("refundbot_")}
    families = {re.sub(r"_(total|bucket|sum|count|created)$", "", name) for name in ours}
    unshown = {
        family
        for family in families
        if not any(name == family or name.startswith(f"{family}_") for name in shown)
    }
    assert unshown == set()
