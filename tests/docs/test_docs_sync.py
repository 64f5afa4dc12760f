"""docs/sync.md names every ledger kind and every finding code the sync code actually uses."""

from __future__ import annotations

import ast
from pathlib import Path

from docs_support import REPO, section

SYNC_SOURCE = REPO / "src" / "paymo_qb_mcp" / "sync"
SYNC_DOC = (REPO / "docs" / "sync.md").read_text(encoding="utf-8")
# The helpers that report a finding take its code first (FindingList and the payments planner).
FINDING_HELPERS = frozenset({"block", "warn", "inform"})


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(SYNC_SOURCE.rglob("*.py"))]


def _kind_constants() -> dict[str, str]:
    """Module-level string constants named like ledger kinds (`*_KIND`, `KIND_*`): name → value."""
    found: dict[str, str] = {}
    for path, module in _modules():
        for node in module.body:
            target: ast.expr | None = None
            value: ast.expr | None = None
            if isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            if not isinstance(target, ast.Name) or not isinstance(value, ast.Constant):
                continue
            name = target.id
            if (name.endswith("_KIND") or name.startswith("KIND_")) and isinstance(value.value, str):
                found[f"{path.stem}.{name}"] = value.value
    return found


def _finding_codes() -> dict[str, set[str]]:
    """Every finding code the sync reports → the modules that report it."""
    codes: dict[str, set[str]] = {}
    for path, module in _modules():
        for node in ast.walk(module):
            if not isinstance(node, ast.Call):
                continue
            code: object = None
            if isinstance(node.func, ast.Attribute) and node.func.attr in FINDING_HELPERS and node.args:
                first = node.args[0]
                code = first.value if isinstance(first, ast.Constant) else None
            elif isinstance(node.func, ast.Name) and node.func.id == "Finding":
                code = next(
                    (
                        kw.value.value
                        for kw in node.keywords
                        if kw.arg == "code" and isinstance(kw.value, ast.Constant)
                    ),
                    None,
                )
            if isinstance(code, str) and code.isupper():
                codes.setdefault(code, set()).add(path.name)
    return codes


def test_the_code_is_read() -> None:
    # Guards the extraction: these must be found, or the tests below prove nothing.
    assert {"customer", "invoice", "time_group", "payment_to_paymo"} <= set(_kind_constants().values())
    assert {"CLOSED_PERIOD", "READBACK_MISMATCH", "UNFINISHED_PUSH"} <= set(_finding_codes())


def test_every_ledger_kind_is_documented() -> None:
    table = section(SYNC_DOC, "## Ledger kinds")
    missing = {
        constant: kind
        for constant, kind in _kind_constants().items()
        # A marker-only kind (the customer's `paymo:client:<id>`) appears as its marker.
        if f"`{kind}`" not in table and f"paymo:{kind}:" not in table
    }
    assert not missing, f"docs/sync.md 'Ledger kinds' lacks {missing}"


def test_every_finding_code_is_in_the_guards_table() -> None:
    table = section(SYNC_DOC, "## Guards (finding codes)")
    documented = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    used = _finding_codes()
    missing = {code: sorted(modules) for code, modules in used.items() if code not in documented}
    assert not missing, f"docs/sync.md 'Guards' lacks {missing}"
    stale = documented - set(used)
    assert not stale, f"docs/sync.md 'Guards' lists codes the sync no longer reports: {sorted(stale)}"
