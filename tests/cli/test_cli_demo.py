"""`paymo-qb-mcp demo` runs a whole reconciliation to the end, the way a newcomer first sees it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from paymo_qb_mcp.store.audit import verify

pytestmark = pytest.mark.slow


def test_demo_runs_to_the_end_and_leaves_an_intact_audit_log(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "paymo_qb_mcp.cli", "demo", "--data-dir", str(data_dir)],
        env={**os.environ, "PAYMO_QB_DATA_DIR": str(tmp_path / "unused")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # Matching explains itself and never merges namesakes.
    assert "'Acme Corporation': matched → ACME Corp." in out
    assert "'Jones Consulting': none" in out
    assert "'Umbrella Health': ambiguous" in out
    # Invoices land to the cent; the big one asked the human; the closed period was refused.
    assert "INV-2026-1035: applied; Paymo 5089.52, QuickBooks 5089.52" in out
    assert "HUMAN is asked (MCP elicitation)" in out
    assert "CLOSED_PERIOD" in out
    assert "push_expenses: applied" in out
    assert "aggregate_time: applied" in out
    # The demo's data directory is not the default one, so the command names it (lines may wrap).
    flat = " ".join(out.split())
    assert f"pending_approval: the human runs `PAYMO_QB_DATA_DIR={data_dir} paymo-qb-mcp approve apr_" in flat
    assert "hash chain intact" in out
    # Nothing secret reaches the terminal, and stdout carries only the report.
    assert "Bearer" not in out
    checked = verify(data_dir / "audit.jsonl")
    assert checked.ok
    assert checked.entries > 50


def test_serve_over_http_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PAYMO_QB_HTTP_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "paymo_qb_mcp.cli", "serve", "--sandbox", "--transport", "http"],
        env={**env, "PAYMO_QB_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "PAYMO_QB_HTTP_TOKEN" in done.stderr
