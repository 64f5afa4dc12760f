"""The reliability suite (`pytest -m reliability`): every test here is marked, gets a row of the table
through `reliability_row`, and the table is printed at the end of the session."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_table import TABLE, ScenarioRow, format_table, write_table

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).resolve().parent == HERE:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def reliability_row(request: pytest.FixtureRequest) -> ScenarioRow:
    """This test's row; its name is the test's name without `test_` (parametrized ids included)."""
    row = ScenarioRow(scenario=request.node.name.removeprefix("test_"))
    TABLE.append(row)
    return row


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TABLE:
        terminalreporter.write_sep("=", "reliability")
        terminalreporter.write_line(format_table(TABLE))
        write_table(TABLE)
