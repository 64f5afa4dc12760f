"""`paymo-qb-mcp audit verify | tail`: exit codes, the first bad line, and readable or raw events."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import simplejson

from paymo_qb_mcp.cli import main
from paymo_qb_mcp.store.audit import AuditLog
from paymo_qb_mcp.store.tokens import DataDirAuditKeys


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
    result = log.verify()
    assert result.key_id is not None
    assert capsys.readouterr().out.strip() == (
        f"audit log OK: 4 entries, chain intact, keyed with audit key {result.key_id} from line 1 "
        f"({log.path})"
    )


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


def test_verify_of_a_log_from_before_the_key_says_from_which_line_it_is_keyed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAYMO_QB_CONFIG", raising=False)
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(tmp_path))
    AuditLog.in_data_dir(tmp_path, clock=StepClock(), keys=None).append("tool_call", tool="old")
    assert main(["audit", "verify"]) == 0
    assert "not keyed" in capsys.readouterr().out
    keyed = AuditLog.in_data_dir(tmp_path, clock=StepClock())
    keyed.append("tool_call", tool="new")
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert f"keyed with audit key {keyed.verify().key_id} from line 2" in out
    assert "line 1 was written before the key existed" in out


def test_verify_names_the_key_and_line_of_a_rewrite_without_the_key(
    log: AuditLog, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib

    from paymo_qb_mcp.store.audit import GENESIS_HASH, canonical_json

    key_id = log.verify().key_id
    previous, lines = GENESIS_HASH, []
    for line in log.path.read_bytes().splitlines():
        entry = simplejson.loads(line)
        entry.pop("hash")
        entry.pop("key_id")
        entry["prev"] = previous
        entry["hash"] = previous = hashlib.sha256(canonical_json(entry)).hexdigest()
        lines.append(canonical_json(entry) + b"\n")
    log.path.write_bytes(b"".join(lines))
    assert main(["audit", "verify"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("audit log BROKEN at line 1:")
    assert f"audit key {key_id}" in error


def test_a_checkpoint_printed_now_catches_a_rollback_later(
    log: AuditLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = {name: (tmp_path / name).read_bytes() for name in ("audit.jsonl", "audit.jsonl.head")}
    log.append("outcome", outcome="applied")
    assert main(["audit", "verify", "--checkpoint"]) == 0
    captured = capsys.readouterr()
    checkpoint = captured.out.strip()
    assert len(captured.out.splitlines()) == 1  # so `>> checkpoints.txt` keeps only checkpoints
    assert checkpoint.startswith("paymo-qb-mcp audit checkpoint seq=5 hash=")
    assert "audit log OK" in captured.err
    key = DataDirAuditKeys(tmp_path).load()
    assert key is not None
    for form in (key.secret.hex(), base64.b64encode(key.secret).decode()):
        assert form not in captured.out + captured.err
    kept = tmp_path / "elsewhere" / "checkpoints.txt"
    kept.parent.mkdir()
    kept.write_text(f"# kept off the machine\n{checkpoint}\n")
    log.append("outcome", outcome="applied")
    assert main(["audit", "verify", "--checkpoints", str(kept)]) == 0
    assert "1 checkpoint(s) matched" in capsys.readouterr().out

    # The older copy of the log and its head is put back: consistent, keyed, signed — and one entry short.
    for name, data in backup.items():
        (tmp_path / name).write_bytes(data)
    assert main(["audit", "verify"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--checkpoints", str(kept)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("audit log BROKEN at line 5:")
    assert "checkpoint" in error


def test_an_unreadable_checkpoint_file_is_an_error(
    log: AuditLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "checkpoints.txt"
    kept.write_text("seq=4 and some words\n")
    assert main(["audit", "verify", "--checkpoints", str(kept)]) == 1
    assert "checkpoints.txt line 1" in capsys.readouterr().err
