"""Grouped audit appends: several chained entries in one write and one fsync, the chain and `verify` as
with single appends, a group cut short found and repaired as a single append is, and groups from
several processes never interleaved."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from paymo_qb_mcp.store.audit import AuditLog, verify

T0 = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)


class StepClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog.in_data_dir(tmp_path, clock=StepClock())
    audit.append("tool_call", tool="earlier")
    return audit


def count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    calls: list[Any] = []
    real = getattr(os, name)

    def counting(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(os, name, counting)
    return calls


def test_a_group_is_one_write_of_the_log_and_two_fsyncs(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs = count_calls(monkeypatch, "fsync")
    writes = count_calls(monkeypatch, "write")
    with log.group() as events:
        events.append("tool_call", tool="sync_invoice", arguments={"paymo_invoice_id": 1035})
        events.append("plan", tool="sync_invoice", plan_hash="ab" * 32, message="Create one invoice")
        events.append("decision", tool="sync_invoice", decision="allow", rule="small invoices")
        assert (fsyncs, writes) == ([], [])  # nothing leaves memory before the flush
    # The log and the head record's temporary file: one write and one fsync each.
    assert (len(fsyncs), len(writes)) == (2, 2)
    entries = log.tail(10)
    assert [(e["seq"], e["event"]) for e in entries] == [
        (1, "tool_call"),
        (2, "tool_call"),
        (3, "plan"),
        (4, "decision"),
    ]
    # Each entry keeps the time it was recorded at, not the time of the flush.
    assert [e["time"] for e in entries[1:]] == [(T0 + timedelta(seconds=n)).isoformat() for n in (2, 3, 4)]
    assert verify(log.path).ok
    assert verify(log.path).entries == 4


def test_single_appends_are_groups_of_one_with_the_same_two_fsyncs(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs = count_calls(monkeypatch, "fsync")
    log.append("outcome", tool="sync_invoice", outcome="applied")
    assert len(fsyncs) == 2  # it was three: the directory was synced after every head replacement
    assert verify(log.path).ok


def test_append_many_returns_the_entries_as_written(log: AuditLog) -> None:
    records = [log.record("write", ids={"paymo": str(n)}) for n in range(3)]
    written = log.append_many(records)
    assert [entry["seq"] for entry in written] == [2, 3, 4]
    assert [entry["prev"] for entry in written[1:]] == [entry["hash"] for entry in written[:-1]]
    assert written == log.tail(3)
    assert log.append_many([]) == []


def test_flush_writes_what_was_recorded_so_far_and_an_exception_still_writes_the_rest(log: AuditLog) -> None:
    def call() -> None:
        with log.group() as events:
            events.append("tool_call", tool="mark_paid")
            assert [e["event"] for e in events.flush()] == ["tool_call"]
            assert log.tail(1)[0]["tool"] == "mark_paid"  # durable before the write below is sent
            assert events.flush() == []
            events.append("error", tool="mark_paid", outcome="failed", message="the service failed")
            raise RuntimeError("the service failed")

    with pytest.raises(RuntimeError, match="the service failed"):
        call()
    assert [e["event"] for e in log.tail(2)] == ["tool_call", "error"]
    assert verify(log.path).ok


def test_a_group_refuses_unknown_events_and_fields_when_recorded(log: AuditLog) -> None:
    with log.group() as events:
        with pytest.raises(ValueError, match="unknown audit event"):
            events.append("launch", tool="x")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="unknown audit fields"):
            events.append("plan", colour="red")  # type: ignore[call-arg]
    assert verify(log.path).entries == 1


KILLED_HALFWAY = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from paymo_qb_mcp.store.audit import AuditLog

    log = AuditLog(Path(sys.argv[1]))
    real_write = os.write

    def half(descriptor, data):
        if data.count(b"\\n") > 1:  # the group's block: two lines and a bit reach the file, then it dies
            second = data.index(b"\\n", data.index(b"\\n") + 1)
            real_write(descriptor, data[: second + 11])
            os._exit(9)
        return real_write(descriptor, data)

    os.write = half
    with log.group() as events:
        for n in range(4):
            events.append("write", tool="sync_invoice", ids={"paymo": str(n), "quickbooks": str(100 + n)})
    """
)


def test_a_group_killed_halfway_is_found_and_repaired_as_a_single_append_is(log: AuditLog) -> None:
    killed = subprocess.run([sys.executable, "-c", KILLED_HALFWAY, str(log.path)], check=False, timeout=60)
    assert killed.returncode == 9
    *lines, cut = log.path.read_bytes().split(b"\n")
    complete = len(lines)
    assert complete == 3  # the earlier entry and the group's first two
    assert len(cut) == 10  # and the third cut short
    result = verify(log.path)
    assert (result.ok, result.entries, result.first_bad_line) == (False, complete, complete + 1)
    assert "incomplete" in (result.reason or "")

    # The next append drops the cut line and chains on the last complete entry.
    AuditLog(log.path).append("error", message="restarted after a crash")
    result = verify(log.path)
    assert (result.ok, result.entries) == (True, complete + 1)
    assert log.tail(1)[0]["seq"] == complete + 1


GROUP_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from paymo_qb_mcp.store.audit import AuditLog

    log = AuditLog(Path(sys.argv[1]))
    for group in range(20):
        with log.group() as events:
            for part in range(3):
                events.append("write", tool="writer-" + sys.argv[2], details={"group": group, "part": part})
    """
)


def test_groups_from_several_processes_keep_one_chain_and_stay_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writers = [
        subprocess.Popen([sys.executable, "-c", GROUP_WRITER, str(path), str(number)]) for number in range(3)
    ]
    local = AuditLog(path)
    for index in range(30):
        local.append("tool_call", tool="writer-local", arguments={"i": index})
    for writer in writers:
        assert writer.wait(timeout=60) == 0
    result = verify(path)
    assert (result.ok, result.entries) == (True, 210)
    entries = local.tail(210)
    for at, entry in enumerate(entries):
        if entry["event"] == "write" and entry["details"]["part"] == 0:
            group = entries[at : at + 3]
            assert {e["tool"] for e in group} == {entry["tool"]}
            assert [e["details"]["part"] for e in group] == [0, 1, 2]
