"""The test tree's own rules: folders have no __init__.py, so module names must be unique and no test
may import a conftest by name (which one it gets would depend on collection order)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_module_names_are_unique_across_folders() -> None:
    names = Counter(path.name for path in TESTS.rglob("*.py") if path.name != "conftest.py")
    assert [name for name, count in names.items() if count > 1] == []


def test_no_module_imports_a_conftest() -> None:
    pattern = re.compile(r"^\s*(from\s+conftest\s+import|import\s+conftest\b)", re.MULTILINE)
    offenders = [
        str(path.relative_to(TESTS)) for path in TESTS.rglob("*.py") if pattern.search(path.read_text())
    ]
    assert offenders == []
