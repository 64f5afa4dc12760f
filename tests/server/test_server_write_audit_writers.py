"""Servers sharing a data directory (server.write_audit.WriterLease): a start leaves another live server's
write intents open instead of settling them as a crash's, and the first start after that server died
settles them — so a write it made after the other start, and died before auditing, is still accounted
for. Found by the reliability suite (tests/reliability/test_reliability_shared_data_dir.py)."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_server_write_audit import invoice

from paymo_qb_mcp.domain.plan import Change
from paymo_qb_mcp.server.write_audit import WRITERS_DIR, AuditedWrites, WriterLease, settle_open_intents
from paymo_qb_mcp.store.audit import AuditLog
from paymo_qb_mcp.store.ledger import Ledger
from paymo_qb_mcp.sync.writes import AppliedChange

PLAN = "e" * 64

# Another server: holds its lease until it is killed.
OTHER_SERVER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from paymo_qb_mcp.server.write_audit import WriterLease

    with WriterLease(Path(sys.argv[1])) as lease:
        print(lease.writer, flush=True)
        time.sleep(120)
    """
)


@pytest.fixture
def other_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A process holding a writer lease on ``tmp_path`` (its writer id), until the test kills it."""
    process = subprocess.Popen(
        [sys.executable, "-c", OTHER_SERVER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "the other server printed no writer id"
        yield process.stdout.readline().strip(), process
    finally:
        process.kill()
        process.wait()


async def _intend(audit: AuditLog, writer: str, *changes: Change) -> None:
    with audit.group() as group:
        await AuditedWrites(group, tool="sync_invoice", plan_hash=PLAN, approval=None, writer=writer).intend(
            changes
        )


def _events(audit: AuditLog, event: str) -> list[dict[str, Any]]:
    return [entry for entry in audit.tail(100) if entry["event"] == event]


async def test_a_live_servers_intents_are_left_open_and_settled_once_it_died(
    tmp_path: Path, other_server: tuple[str, subprocess.Popen[str]]
) -> None:
    writer, process = other_server
    audit = AuditLog.in_data_dir(tmp_path)
    with Ledger(tmp_path) as ledger:
        await _intend(audit, writer, invoice(1), invoice(2))
        [first, _] = _events(audit, "write_intent")
        assert first["details"]["writer"] == writer

        # Another server starts while those two are in flight: they are not its to settle.
        assert settle_open_intents(audit, ledger) == 0
        [mark] = _events(audit, "intents_settled")
        assert mark["details"] == {"settled": 0, "open_from": first["seq"], "still_writing": 2}
        assert not _events(audit, "write_recovered")

        # The writer links invoice 1 (QuickBooks created it), then dies before auditing either outcome.
        ledger.save_link("invoice", 1, "41", sync_token="0", content_hash="c", origin="ours")
        process.send_signal(signal.SIGKILL)
        process.wait()

        # The next start looks back to the oldest intent left open, and finds the writer dead.
        assert settle_open_intents(audit, ledger) == 2
        assert settle_open_intents(audit, ledger) == 0

    recovered = {entry["ids"]["paymo"]: entry for entry in _events(audit, "write_recovered")}
    assert {paymo: entry["outcome"] for paymo, entry in recovered.items()} == {"1": "written", "2": "absent"}
    assert recovered["1"]["ids"]["quickbooks"] == "41"
    assert not (tmp_path / WRITERS_DIR / f"{writer}.lock").exists()  # a dead writer's lease is cleared
    assert audit.verify().ok


async def test_a_live_servers_intents_with_outcomes_leave_nothing_to_settle(
    tmp_path: Path, other_server: tuple[str, subprocess.Popen[str]]
) -> None:
    writer, _ = other_server
    audit = AuditLog.in_data_dir(tmp_path)
    with Ledger(tmp_path) as ledger:
        with audit.group() as group:
            writes = AuditedWrites(group, tool="sync_invoice", plan_hash=PLAN, approval=None, writer=writer)
            await writes.intend([invoice(1)])
            assert settle_open_intents(audit, ledger) == 0  # in flight while another server starts
            await writes.done([AppliedChange(invoice(1), "created", qbo_id="41", paymo_id="1")])
        # The next start looks back to it, finds its outcome, and leaves no reason to look back again.
        assert settle_open_intents(audit, ledger) == 0
        assert _events(audit, "intents_settled")[-1]["details"] == {"settled": 0}
    assert not _events(audit, "write_recovered")


async def test_this_servers_own_lease_keeps_its_intents_open(tmp_path: Path) -> None:
    audit = AuditLog.in_data_dir(tmp_path)
    with Ledger(tmp_path) as ledger, WriterLease(tmp_path) as lease:
        await _intend(audit, lease.writer, invoice(3))
        assert settle_open_intents(audit, ledger) == 0  # another runtime of this very process
    assert not (tmp_path / WRITERS_DIR / f"{lease.writer}.lock").exists()  # released with the runtime
    with Ledger(tmp_path) as ledger:
        assert settle_open_intents(audit, ledger) == 1


async def test_another_servers_outcome_under_the_same_key_leaves_this_ones_intent_open(
    tmp_path: Path, other_server: tuple[str, subprocess.Popen[str]]
) -> None:
    # Two servers made the same plan, so their writes of invoice 1 have the same key. The other one (alive)
    # sent the create; this one, waiting for the record, then found it linked and said so ("unchanged").
    # Found by the reliability suite (three servers on one data directory): before, that outcome closed
    # both intents, and the writer that died before auditing its create left a payment no entry named.
    writer, process = other_server
    audit = AuditLog.in_data_dir(tmp_path)
    with Ledger(tmp_path) as ledger:
        await _intend(audit, writer, invoice(1))
        with audit.group() as group:
            mine = AuditedWrites(group, tool="sync_invoice", plan_hash=PLAN, approval=None, writer="b" * 16)
            await mine.intend([invoice(1)])
            ledger.save_link("invoice", 1, "41", sync_token="0", content_hash="c", origin="ours")
            await mine.done([AppliedChange(invoice(1), "unchanged", qbo_id="41", paymo_id="1")])
        process.send_signal(signal.SIGKILL)
        process.wait()

        assert settle_open_intents(audit, ledger) == 1

    [recovered] = _events(audit, "write_recovered")
    assert recovered["details"]["writer"] == writer
    assert (recovered["outcome"], recovered["ids"]["quickbooks"]) == ("written", "41")
    assert [entry["details"]["writer"] for entry in _events(audit, "write")] == ["b" * 16]
