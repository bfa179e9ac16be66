"""The product does not depend on its measurement tooling: bench/ imports bot/, never back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("package", ["bot", "actions"])
def test_product_never_imports_bench(package: str) -> None:
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): sorted(
            m for m in imported_modules(path) if m == "bench" or m.startswith("bench.")
        )
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}
