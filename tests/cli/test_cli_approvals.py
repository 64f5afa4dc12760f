"""`paymo-qb-mcp pending | approve | reject`: what the human sees, what is recorded, and who approved."""

from __future__ import annotations

import getpass
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from paymo_qb_mcp.cli import main
from paymo_qb_mcp.config.settings import ENVIRONMENT_VARIABLES
from paymo_qb_mcp.store.approvals import Approval, ApprovalStore
from paymo_qb_mcp.store.audit import AuditLog, verify

PLAN = "5e" * 32


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def store(data_dir: Path) -> Iterator[ApprovalStore]:
    with ApprovalStore(data_dir) as opened:
        yield opened


def request(store: ApprovalStore, *, minutes: int = 15) -> Approval:
    return store.create(
        "sync_invoice",
        {"paymo_invoice_id": 1040},
        PLAN,
        "Create QBO invoice INV-2026-1040 for ACME Corp. (2 lines)",
        {"CAD": Decimal("11845.73")},
        datetime.now(UTC) + timedelta(minutes=minutes),
    )


def answer(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_pending_when_nothing_waits(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pending"]) == 0
    assert capsys.readouterr().out.strip() == "No approvals are waiting."


def test_pending_lists_id_tool_summary_totals_and_expiry(
    store: ApprovalStore, capsys: pytest.CaptureFixture[str]
) -> None:
    approval = request(store)
    assert main(["pending"]) == 0
    out = capsys.readouterr().out
    assert f"{approval.id}  sync_invoice  expires " in out
    assert "(in 14m)" in out or "(in 15m)" in out
    assert "Create QBO invoice INV-2026-1040 for ACME Corp. (2 lines)" in out
    assert "totals: CAD 11845.73" in out
    assert f"plan hash: {PLAN}" in out


def test_pending_shows_a_plan_asked_for_many_times_once_with_its_count(
    store: ApprovalStore, capsys: pytest.CaptureFixture[str]
) -> None:
    approval = request(store)
    for _ in range(19):
        assert request(store).id == approval.id
    other = store.create(
        "sync_invoice", {"paymo_invoice_id": 1041}, "6f" * 32, "Another plan", {}, approval.expires_at
    )
    assert main(["pending"]) == 0
    out = capsys.readouterr().out
    assert out.count(approval.id) == 1
    assert "asked 20 times by the agent, last at " in out
    assert "2 approvals of sync_invoice wait (at most 20 at once" in out
    # An approval asked for once says nothing about repeats.
    other_block = out[out.index(other.id) :]
    assert "asked" not in other_block.split("plan hash")[0]


def test_approvals_is_an_alias_of_pending(store: ApprovalStore, capsys: pytest.CaptureFixture[str]) -> None:
    approval = request(store)
    assert main(["approvals", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(row["id"], row["tool"], row["status"]) for row in rows] == [
        (approval.id, "sync_invoice", "pending")
    ]


def test_approve_after_yes_records_the_os_user_and_audits(
    store: ApprovalStore, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    approval = request(store)
    answer(monkeypatch, "y\n")
    assert main(["approve", approval.id.lower()]) == 0
    out = capsys.readouterr().out
    assert "Create QBO invoice INV-2026-1040" in out
    assert f"Approve {approval.id}? [y/N]" in out
    assert f"Approved {approval.id} as {getpass.getuser()}" in out

    approved = store.get(approval.id)
    assert approved is not None
    assert (approved.status, approved.decided_by) == ("approved", getpass.getuser())
    assert store.consume(approval.id, "sync_invoice", PLAN).status == "used"

    [entry] = AuditLog.in_data_dir(data_dir).tail(5)
    assert entry["event"] == "approval_granted"
    assert entry["approval"] == {"id": approval.id, "channel": "out_of_band", "by": getpass.getuser()}
    assert (entry["tool"], entry["plan_hash"]) == ("sync_invoice", PLAN)
    assert verify(data_dir / "audit.jsonl").ok


@pytest.mark.parametrize("reply", ["n\n", "\n", "maybe\n", ""])
def test_approve_without_a_yes_changes_nothing(
    store: ApprovalStore,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    reply: str,
) -> None:
    approval = request(store)
    answer(monkeypatch, reply)
    assert main(["approve", approval.id]) == 1
    assert "Not approved; nothing changed." in capsys.readouterr().out
    assert store.get(approval.id).status == "pending"  # type: ignore[union-attr]
    assert not (data_dir / "audit.jsonl").exists()


def test_approve_yes_flag_does_not_ask(store: ApprovalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    approval = request(store)
    monkeypatch.setattr(sys, "stdin", None)  # any read would fail
    assert main(["approve", approval.id, "--yes"]) == 0
    assert store.get(approval.id).status == "approved"  # type: ignore[union-attr]


def test_approve_unknown_id(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["approve", "apr_ZZZZZZ", "--yes"]) == 1
    assert "paymo-qb-mcp approve: there is no approval apr_ZZZZZZ" in capsys.readouterr().err


def test_approve_expired(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with ApprovalStore(data_dir, clock=lambda: an_hour_ago) as past:
        approval = past.create("sync_invoice", {}, PLAN, "old plan", {}, an_hour_ago + timedelta(minutes=15))
    assert main(["approve", approval.id, "--yes"]) == 1
    assert f"approval {approval.id} expired at" in capsys.readouterr().err


def test_approve_twice(store: ApprovalStore, capsys: pytest.CaptureFixture[str]) -> None:
    approval = request(store)
    assert main(["approve", approval.id, "--yes"]) == 0
    assert main(["approve", approval.id, "--yes"]) == 1
    assert "already approved by" in capsys.readouterr().err


def test_reject_with_reason(store: ApprovalStore, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    approval = request(store)
    assert main(["reject", approval.id, "--reason", "wrong customer"]) == 0
    assert f"Rejected {approval.id}" in capsys.readouterr().out
    rejected = store.get(approval.id)
    assert rejected is not None
    assert (rejected.status, rejected.reason) == ("rejected", "wrong customer")
    [entry] = AuditLog.in_data_dir(data_dir).tail(5)
    assert (entry["event"], entry["message"]) == ("approval_rejected", "wrong customer")


def test_a_configuration_error_is_reported_not_raised(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYMO_QB_CONFIG", str(data_dir / "missing.env"))
    assert main(["pending"]) == 1
    assert "PAYMO_QB_CONFIG points at" in capsys.readouterr().err


def test_approve_from_another_process(store: ApprovalStore, data_dir: Path) -> None:
    approval = request(store)
    environment = {name: value for name, value in os.environ.items() if name not in ENVIRONMENT_VARIABLES}
    environment["PAYMO_QB_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-m", "paymo_qb_mcp.cli", "approve", approval.id],
        input="yes\n",
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"Approved {approval.id}" in result.stdout
    used = store.consume(approval.id, "sync_invoice", PLAN)
    assert (used.status, used.decided_by) == ("used", getpass.getuser())
