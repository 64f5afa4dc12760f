"""Audit log: the chain verifies; an edited byte or a deleted, reordered or cut line is found at its line."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import simplejson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paymo_qb_mcp.errors import DataError
from paymo_qb_mcp.store.audit import GENESIS_HASH, AuditLog, canonical_json, verify
from paymo_qb_mcp.store.tokens import DataDirAuditKeys

T0 = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
FAKE_TOKEN = "qbo-access-6f1ed002ab5595859014ebf0951522d9"
FAKE_KEY = "paymo-api-key-0cc175b9c0f1b6a831c399e269772661"


class StepClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def write_session(log: AuditLog) -> None:
    """One governed write, as the server records it."""
    arguments = {"paymo_invoice_id": 1040, "dry_run": False}
    log.append("tool_call", tool="sync_invoice", arguments=arguments)
    log.append("plan", tool="sync_invoice", plan_hash="ab" * 32, details={"total": Decimal("11845.73")})
    log.append(
        "decision", tool="sync_invoice", plan_hash="ab" * 32, decision="confirm", rule="large invoices"
    )
    log.append(
        "approval_requested", tool="sync_invoice", approval={"id": "apr_7K2M9Q", "channel": "out_of_band"}
    )
    log.append("approval_granted", approval={"id": "apr_7K2M9Q", "channel": "out_of_band", "by": "alice"})
    log.append(
        "write", tool="sync_invoice", ids={"paymo": "1040", "quickbooks": "150"}, upstream_request_ids=["r-1"]
    )
    log.append("read_back", tool="sync_invoice", ids={"quickbooks": "150"}, outcome="matched")
    log.append("outcome", tool="sync_invoice", plan_hash="ab" * 32, outcome="applied")


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog.in_data_dir(tmp_path, clock=StepClock(), known_secrets=[FAKE_TOKEN, FAKE_KEY])
    write_session(audit)
    return audit


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_the_chain_verifies(log: AuditLog) -> None:
    result = log.verify()
    assert (result.ok, result.entries, result.first_bad_line, result.reason) == (True, 8, None, None)


def test_entries_carry_the_documented_fields(log: AuditLog) -> None:
    entries = [simplejson.loads(line, use_decimal=True) for line in lines_of(log.path)]
    first, plan, decision = entries[0], entries[1], entries[2]
    assert first["seq"] == 1
    assert first["prev"] == GENESIS_HASH
    assert first["time"] == "2026-11-03T14:00:01+00:00"
    assert first["event"] == "tool_call"
    assert first["arguments"] == {"dry_run": False, "paymo_invoice_id": 1040}
    assert plan["details"] == {"total": Decimal("11845.73")}
    assert (decision["decision"], decision["rule"]) == ("confirm", "large invoices")
    assert entries[4]["approval"] == {"by": "alice", "channel": "out_of_band", "id": "apr_7K2M9Q"}
    assert entries[5]["upstream_request_ids"] == ["r-1"]
    for previous, entry in itertools.pairwise(entries):
        assert entry["prev"] == previous["hash"]
    # Keyed with the HMAC key kept beside the credentials (see test_audit_keyed.py).
    key = DataDirAuditKeys(log.path.parent).load()
    assert key is not None
    assert first["key_id"] == key.key_id
    unhashed = {key: value for key, value in first.items() if key != "hash"}
    assert first["hash"] == hmac.new(key.secret, canonical_json(unhashed), hashlib.sha256).hexdigest()


def test_each_line_is_canonical_json(log: AuditLog) -> None:
    for line in lines_of(log.path):
        assert line.endswith(b"\n")
        assert canonical_json(simplejson.loads(line, use_decimal=True)) == line[:-1]


@pytest.mark.parametrize("line_index", range(8))
def test_editing_one_byte_of_any_line_fails_at_that_line(log: AuditLog, line_index: int) -> None:
    original = lines_of(log.path)
    content = original[line_index]
    # Every byte position of the line except the newline, each with a plausible substitute.
    for position in range(len(content) - 1):
        current = content[position : position + 1]
        substitute = b"1" if current != b"1" else b"2"
        edited = content[:position] + substitute + content[position + 1 :]
        log.path.write_bytes(b"".join([*original[:line_index], edited, *original[line_index + 1 :]]))
        result = verify(log.path)
        assert not result.ok, f"edit at byte {position} of line {line_index + 1} went unnoticed"
        assert result.first_bad_line == line_index + 1, (position, result)


@pytest.mark.parametrize("keyed", [False, True], ids=["unkeyed-log", "keyed-log"])
def test_a_consistent_forgery_of_one_entry_breaks_the_next_link(tmp_path: Path, keyed: bool) -> None:
    log = AuditLog.in_data_dir(tmp_path, clock=StepClock(), keys="data_dir" if keyed else None)
    write_session(log)
    original = lines_of(log.path)
    entry = simplejson.loads(original[2], use_decimal=True)
    entry["decision"] = "allow"
    entry.pop("hash")
    entry["hash"] = hashlib.sha256(canonical_json(entry)).hexdigest()
    original[2] = canonical_json(entry) + b"\n"
    log.path.write_bytes(b"".join(original))
    result = verify(log.path)
    if keyed:  # without the key the forged entry itself is refused
        assert (result.ok, result.first_bad_line) == (False, 3)
        assert f"audit key {result.key_id}" in (result.reason or "")
    else:
        assert (result.ok, result.first_bad_line) == (False, 4)
        assert "prev does not match" in (result.reason or "")


def test_a_deleted_line_is_found(log: AuditLog) -> None:
    original = lines_of(log.path)
    log.path.write_bytes(b"".join(original[:3] + original[4:]))
    result = verify(log.path)
    assert (result.ok, result.entries, result.first_bad_line) == (False, 3, 4)
    assert "deleted, inserted or reordered" in (result.reason or "")


def test_reordered_lines_are_found(log: AuditLog) -> None:
    original = lines_of(log.path)
    original[5], original[6] = original[6], original[5]
    log.path.write_bytes(b"".join(original))
    assert verify(log.path).first_bad_line == 6


def test_deleting_the_first_line_is_found(log: AuditLog) -> None:
    log.path.write_bytes(b"".join(lines_of(log.path)[1:]))
    assert verify(log.path).first_bad_line == 1


def test_a_truncated_tail_is_found_through_the_head_record(log: AuditLog) -> None:
    log.path.write_bytes(b"".join(lines_of(log.path)[:6]))
    result = verify(log.path)
    assert (result.ok, result.entries, result.first_bad_line) == (False, 6, 7)
    assert "lines 7-8 were removed" in (result.reason or "")


def test_a_line_cut_short_is_found(log: AuditLog) -> None:
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-20])
    result = verify(log.path)
    assert (result.ok, result.first_bad_line) == (False, 8)


def test_the_next_append_repairs_a_torn_write_and_the_head_still_reports_it(log: AuditLog) -> None:
    data = log.path.read_bytes()
    log.path.write_bytes(data + b'{"seq":9,"time":"2026-11-')  # a crash mid-append: never acknowledged
    log.append("error", tool="sync_invoice", message="retrying after crash")
    result = verify(log.path)
    assert (result.ok, result.entries) == (True, 9)


def test_an_empty_or_missing_log_verifies(tmp_path: Path) -> None:
    assert verify(tmp_path / "audit.jsonl").ok
    (tmp_path / "audit.jsonl").write_bytes(b"")
    assert verify(tmp_path / "audit.jsonl").entries == 0


def test_a_deleted_log_with_a_head_record_is_reported(log: AuditLog) -> None:
    log.path.unlink()
    result = verify(log.path)
    assert (result.ok, result.first_bad_line) == (False, 1)


def test_appending_after_a_damaged_last_line_is_refused(log: AuditLog) -> None:
    lines = lines_of(log.path)
    log.path.write_bytes(b"".join(lines[:-1]) + b"not json\n")
    with pytest.raises(DataError, match="audit verify"):
        log.append("error", message="x")


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    audit = AuditLog.in_data_dir(tmp_path, clock=StepClock(), known_secrets=[FAKE_TOKEN, FAKE_KEY])
    audit.append(
        "tool_call",
        tool="sync_invoice",
        arguments={
            "access_token": FAKE_TOKEN,
            "refresh_token": "rt-anything",
            "Authorization": f"Bearer {FAKE_TOKEN}",
            "nested": {"api_key": FAKE_KEY, "client_secret": "s3cr3t-value", "password": "hunter2!"},
            "note": f"the key is {FAKE_KEY} and the token {FAKE_TOKEN}",
            "headers": [{"X-Api-Key": FAKE_KEY}],
            "SyncToken": "3",
        },
        message=f"Bearer {FAKE_TOKEN}",
        details={
            "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
            "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        },
    )
    data = audit.path.read_bytes()
    for secret in (
        FAKE_TOKEN,
        FAKE_KEY,
        "rt-anything",
        "s3cr3t-value",
        "hunter2!",
        "SflKxwRJSMeKKF2QT4fwpMeJf36",
    ):
        assert secret.encode() not in data
    entry = audit.tail(1)[0]
    assert entry["arguments"]["SyncToken"] == "3"  # public, and needed to follow updates
    assert entry["arguments"]["note"] == "the key is *** and the token ***"
    assert verify(audit.path).ok


def test_tail_returns_the_last_entries_in_order(log: AuditLog) -> None:
    assert [entry["seq"] for entry in log.tail(3)] == [6, 7, 8]
    assert [entry["seq"] for entry in log.tail(100)] == list(range(1, 9))
    assert log.tail(0) == []


def test_tail_reads_only_the_end_of_a_large_log(tmp_path: Path) -> None:
    audit = AuditLog.in_data_dir(tmp_path, clock=StepClock())
    for index in range(300):
        audit.append("tool_call", tool="reconciliation_report", arguments={"padding": "x" * 400, "i": index})
    assert [entry["arguments"]["i"] for entry in audit.tail(2)] == [298, 299]
    assert audit.verify().entries == 300


def test_values_are_normalised_before_hashing(tmp_path: Path) -> None:
    audit = AuditLog.in_data_dir(tmp_path, clock=StepClock())
    written = audit.append(
        "plan",
        details={"when": date(2026, 11, 3), "rate": 0.1, "ids": (1, 2), "at": T0, "amount": Decimal("1E-7")},
    )
    assert written["details"] == {
        "when": "2026-11-03",
        "rate": Decimal("0.1"),
        "ids": [1, 2],
        "at": "2026-11-03T14:00:00+00:00",
        "amount": Decimal("1E-7"),
    }
    assert verify(audit.path).ok


def test_unknown_events_and_naive_times_are_refused(tmp_path: Path) -> None:
    audit = AuditLog.in_data_dir(tmp_path)
    with pytest.raises(ValueError, match="unknown audit event"):
        audit.append("sneaky")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        audit.append("plan", details={"at": datetime(2026, 1, 1)})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text()
        | st.decimals(allow_nan=False, allow_infinity=False),
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_any_payload_round_trips_and_verifies(
    tmp_path_factory: pytest.TempPathFactory, payload: object
) -> None:
    audit = AuditLog.in_data_dir(tmp_path_factory.mktemp("audit"), clock=StepClock())
    audit.append("plan", details={"payload": payload})
    audit.append("outcome", outcome="applied")
    assert verify(audit.path).ok


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from paymo_qb_mcp.store.audit import AuditLog

    log = AuditLog(Path(sys.argv[1]))
    for index in range(40):
        log.append("tool_call", tool="writer-" + sys.argv[2], arguments={"i": index})
    """
)


def test_processes_appending_together_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(number)]) for number in range(3)
    ]
    local = AuditLog(path)
    for index in range(40):
        local.append("tool_call", tool="writer-local", arguments={"i": index})
    for writer in writers:
        assert writer.wait(timeout=60) == 0
    result = verify(path)
    assert (result.ok, result.entries) == (True, 160)
