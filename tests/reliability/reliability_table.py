"""The reliability suite's table: one row per scenario (runs, failures, duplicates, records lost, unaudited
writes, tracebacks to the client, slowest call), collected by the scenarios and printed at the end of the
session (and written as JSON to $RELIABILITY_TABLE when it is set)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["TABLE", "ScenarioRow", "format_table", "write_table"]

COLUMNS = (
    ("scenario", "scenario"),
    ("runs", "runs"),
    ("failures", "failures"),
    ("duplicates", "duplicates"),
    ("records_lost", "records lost"),
    ("unaudited_writes", "unaudited writes"),
    ("tracebacks", "tracebacks"),
    ("slowest_call_s", "slowest call (s)"),
)


@dataclass
class ScenarioRow:
    """What one scenario saw. A scenario fills its row as it goes and asserts on it at the end, so the
    table shows what happened even when the assertion fails."""

    scenario: str
    runs: int = 0
    failures: int = 0
    duplicates: int = 0
    records_lost: int = 0
    unaudited_writes: int = 0
    tracebacks: int = 0
    slowest_call_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def call_took(self, seconds: float) -> None:
        self.slowest_call_s = max(self.slowest_call_s, seconds)

    @property
    def clean(self) -> bool:
        counts = (self.failures, self.duplicates, self.records_lost, self.unaudited_writes, self.tracebacks)
        return not any(counts)


# Filled by the scenarios through the `reliability_row` fixture (tests/reliability/conftest.py).
TABLE: list[ScenarioRow] = []


def format_table(rows: list[ScenarioRow]) -> str:
    """The rows as a fixed-width text table."""
    cells = [[label for _, label in COLUMNS]]
    for row in rows:
        values = asdict(row)
        cells.append([_cell(key, values[key]) for key, _ in COLUMNS])
    widths = [max(len(line[index]) for line in cells) for index in range(len(COLUMNS))]
    lines = ["  ".join(t.ljust(w) for t, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _cell(key: str, value: object) -> str:
    return f"{value:.3f}" if key == "slowest_call_s" and isinstance(value, float) else str(value)


def write_table(rows: list[ScenarioRow]) -> None:
    """The rows as JSON to $RELIABILITY_TABLE, when it is set (for a note or a CI artefact)."""
    target = os.environ.get("RELIABILITY_TABLE")
    if target:
        Path(target).write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n", encoding="utf-8")
