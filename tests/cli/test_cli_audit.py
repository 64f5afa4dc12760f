"""`paymo-qb-mcp audit verify | tail`: exit codes, the first bad line, and readable or raw events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import simplejson

from paymo_qb_mcp.cli import main
from paymo_qb_mcp.store.audit import AuditLog


class StepClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuditLog:
    monkeypatch.delenv("PAYMO_QB_CONFIG", raising=False)
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(tmp_path))
    audit = AuditLog.in_data_dir(tmp_path, clock=StepClock())
    audit.append("tool_call", tool="sync_invoice", arguments={"paymo_invoice_id": 1040})
    audit.append(
        "decision", tool="sync_invoice", plan_hash="c0ffee" * 10 + "abcd", decision="confirm", rule="large"
    )
    audit.append("approval_granted", approval={"id": "apr_7K2M9Q", "channel": "out_of_band", "by": "alice"})
    audit.append(
        "outcome", tool="sync_invoice", outcome="applied", ids={"paymo": "1040", "quickbooks": "150"}
    )
    return audit


def test_verify_ok(log: AuditLog, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.strip() == f"audit log OK: 4 entries, chain intact ({log.path})"


def test_verify_names_the_first_bad_line(log: AuditLog, capsys: pytest.CaptureFixture[str]) -> None:
    lines = log.path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b"alice", b"mallo")
    log.path.write_bytes(b"".join(lines))
    assert main(["audit", "verify"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("audit log BROKEN at line 3: the hash does not match the content")
    assert "2 entries verified before it" in error


def test_verify_a_given_path(log: AuditLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(b"".join(log.path.read_bytes().splitlines(keepends=True)[1:]))
    assert main(["audit", "verify", "--path", str(copy)]) == 1
    assert "line 1:" in capsys.readouterr().err


def test_tail_shows_readable_events(log: AuditLog, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "tail", "-n", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "#2  2026-11-03T14:00:02+00:00  decision  sync_invoice  decision=confirm (large)  plan=c0ffeec0ffee",
        "#3  2026-11-03T14:00:03+00:00  approval_granted  approval=apr_7K2M9Q via out_of_band by alice",
        "#4  2026-11-03T14:00:04+00:00  outcome  sync_invoice  outcome=applied  paymo=1040 quickbooks=150",
    ]


def test_tail_json_prints_entries_as_stored(log: AuditLog, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "tail", "--json"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.encode() for line in printed] == log.path.read_bytes().splitlines()
    assert simplejson.loads(printed[-1])["outcome"] == "applied"


def test_tail_of_an_empty_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAYMO_QB_CONFIG", raising=False)
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(tmp_path))
    assert main(["audit", "tail"]) == 0
    assert "The audit log is empty" in capsys.readouterr().out
    assert main(["audit", "verify"]) == 0
