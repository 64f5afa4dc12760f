"""The link ledger: links both ways, intents, done markers, cursors, persistence, locks across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import diskcache
import pytest

from paymo_qb_mcp.errors import InputError
from paymo_qb_mcp.store.ledger import Intent, Ledger, Link

T0 = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)


class StepClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path, clock=StepClock()) as opened:
        yield opened


def test_links_are_found_both_ways(ledger: Ledger) -> None:
    saved = ledger.save_link("customer", 7, "58", sync_token="0", content_hash="h1", origin="quickbooks")
    assert saved == Link("customer", "7", "58", "0", "h1", "quickbooks", T0 + timedelta(seconds=1))
    assert ledger.link("customer", 7) == saved
    assert ledger.link("customer", "7") == saved
    assert ledger.link_by_qbo("customer", "58") == saved
    assert ledger.link("invoice", 7) is None
    assert ledger.link_by_qbo("invoice", "58") is None


def test_updating_a_link_moves_the_reverse_entry(ledger: Ledger) -> None:
    ledger.save_link("invoice", 1035, "146", sync_token="0", content_hash="a", origin="ours")
    updated = ledger.save_link("invoice", 1035, "147", sync_token="3", content_hash="b", origin="ours")
    assert ledger.link("invoice", 1035) == updated
    assert ledger.link_by_qbo("invoice", "147") == updated
    assert ledger.link_by_qbo("invoice", "146") is None


def test_one_qbo_record_cannot_be_linked_to_two_paymo_records(ledger: Ledger) -> None:
    ledger.save_link("customer", 7, "58", sync_token=None, content_hash="h", origin="quickbooks")
    with pytest.raises(InputError, match="QBO customer 58 is already linked to Paymo customer 7") as caught:
        ledger.save_link("customer", 8, "58", sync_token=None, content_hash="h", origin="quickbooks")
    assert caught.value.field_name == "qbo_id"
    assert ledger.link("customer", 8) is None


def test_remove_link_forgets_both_directions(ledger: Ledger) -> None:
    ledger.save_link("customer", 7, "58", sync_token=None, content_hash="h", origin="paymo")
    assert ledger.remove_link("customer", 7) is True
    assert ledger.link("customer", 7) is None
    assert ledger.link_by_qbo("customer", "58") is None
    assert ledger.remove_link("customer", 7) is False


def test_links_lists_by_kind(ledger: Ledger) -> None:
    ledger.save_link("customer", 2, "20", sync_token=None, content_hash="h", origin="quickbooks")
    ledger.save_link("customer", 1, "10", sync_token=None, content_hash="h", origin="quickbooks")
    ledger.save_link("invoice", 1035, "146", sync_token="0", content_hash="h", origin="ours")
    assert [(link.kind, link.paymo_id) for link in ledger.links("customer")] == [
        ("customer", "1"),
        ("customer", "2"),
    ]
    assert len(ledger.links()) == 3


def test_a_link_remembers_what_our_write_left_in_quickbooks(ledger: Ledger) -> None:
    digests = {"Line": "d-line", "DueDate": "d-due"}
    saved = ledger.save_link(
        "invoice", 1039, "146", sync_token="0", content_hash="h", origin="ours", qbo_digests=digests
    )
    assert saved.qbo_fields == ("DueDate", "Line")
    assert saved.qbo_digest_map() == digests
    assert saved.qbo_fingerprint is not None
    assert ledger.link("invoice", 1039) == saved
    assert ledger.link_by_qbo("invoice", "146") == saved
    # Saved again without digests (a link to a record we did not write): nothing is remembered.
    relinked = ledger.save_link("invoice", 1039, "146", sync_token="1", content_hash="h", origin="quickbooks")
    assert (relinked.qbo_fields, relinked.qbo_fingerprint) == ((), None)
    assert ledger.link("invoice", 1039) == relinked


def test_links_saved_before_digests_were_kept_read_as_remembering_nothing(tmp_path: Path) -> None:
    with Ledger(tmp_path, clock=StepClock()) as ledger:
        ledger.save_link(
            "invoice", 1039, "146", sync_token="0", content_hash="h", origin="ours", qbo_digests={"Line": "d"}
        )
    # Rewrite the stored row as an earlier release wrote it.
    with diskcache.Cache(str(tmp_path / "ledger")) as raw:
        [key] = [key for key in raw.iterkeys() if key.startswith("link")]
        row = dict(raw[key])
        del row["qbo_digests"]
        raw[key] = row
    with Ledger(tmp_path, clock=StepClock()) as ledger:
        link = ledger.link("invoice", 1039)
    assert link is not None
    assert (link.qbo_id, link.content_hash, link.qbo_digests, link.qbo_fingerprint) == ("146", "h", (), None)


def test_bad_origin_and_separator_characters_are_refused(ledger: Ledger) -> None:
    with pytest.raises(InputError, match="origin"):
        ledger.save_link("customer", 1, "1", sync_token=None, content_hash="h", origin="them")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="paymo_id"):
        ledger.link("customer", "a\x1fb")
    with pytest.raises(InputError, match="kind"):
        ledger.link("", 1)


def test_intents_until_the_link_is_saved(ledger: Ledger) -> None:
    first = ledger.record_intent("invoice", 1040, "inv-1040-abc", "hash-1")
    ledger.record_intent("invoice", 1041, "inv-1041-def", "hash-2")
    assert isinstance(first, Intent)
    assert ledger.intent("invoice", 1040) == first
    assert [intent.paymo_id for intent in ledger.pending_intents("invoice")] == ["1040", "1041"]

    ledger.save_link("invoice", 1040, "150", sync_token="0", content_hash="hash-1", origin="ours")
    assert ledger.intent("invoice", 1040) is None
    assert [intent.paymo_id for intent in ledger.pending_intents()] == ["1041"]

    ledger.clear_intent("invoice", 1041)
    assert ledger.pending_intents() == []


def test_a_new_intent_replaces_the_old_one(ledger: Ledger) -> None:
    ledger.record_intent("invoice", 1040, "req-1", "hash-1")
    latest = ledger.record_intent("invoice", 1040, "req-2", "hash-2")
    assert ledger.pending_intents() == [latest]


def test_done_markers_and_cursors(ledger: Ledger) -> None:
    assert not ledger.is_done("time_entry", 9001)
    ledger.mark_done("time_entry", 9001, "qbo-ta-77")
    assert ledger.is_done("time_entry", 9001)
    assert ledger.is_done("time_entry", "9001")
    assert not ledger.is_done("payment", 9001)
    assert ledger.done_value("time_entry", 9001) == "qbo-ta-77"
    assert ledger.done_value("time_entry", 9002) is None

    assert ledger.get_cursor("paymo.invoices.updated_on") is None
    ledger.set_cursor("paymo.invoices.updated_on", "2026-11-03T14:00:00Z")
    assert ledger.get_cursor("paymo.invoices.updated_on") == "2026-11-03T14:00:00Z"


def test_everything_persists_across_instances(tmp_path: Path) -> None:
    with Ledger(tmp_path, clock=StepClock()) as first:
        link = first.save_link("customer", 7, "58", sync_token="2", content_hash="h", origin="quickbooks")
        intent = first.record_intent("invoice", 1040, "req", "hash")
        first.mark_done("payment", 31, "q-9")
        first.set_cursor("qbo.cdc", "2026-11-01T00:00:00Z")
    with Ledger(tmp_path) as second:
        assert second.link("customer", 7) == link
        assert second.link_by_qbo("customer", "58") == link
        assert second.pending_intents() == [intent]
        assert second.done_value("payment", 31) == "q-9"
        assert second.get_cursor("qbo.cdc") == "2026-11-01T00:00:00Z"


def test_naive_clock_is_refused(tmp_path: Path) -> None:
    with (
        Ledger(tmp_path, clock=lambda: datetime(2026, 1, 1)) as naive,
        pytest.raises(ValueError, match="aware"),
    ):
        naive.record_intent("invoice", 1, "r", "h")


# --- locks ----------------------------------------------------------------------------------


async def test_two_tasks_contend_for_one_record(ledger: Ledger) -> None:
    events: list[str] = []
    first_holds = anyio.Event()
    let_first_go = anyio.Event()

    async def first() -> None:
        async with ledger.lock("invoice", 1040):
            events.append("first in")
            first_holds.set()
            await let_first_go.wait()
            events.append("first out")

    async def second() -> None:
        await first_holds.wait()
        async with ledger.lock("invoice", 1040):
            events.append("second in")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(first)
        tasks.start_soon(second)
        await first_holds.wait()
        await anyio.sleep(0.05)  # give the second task time to (wrongly) get in
        assert events == ["first in"]
        let_first_go.set()
    assert events == ["first in", "first out", "second in"]


async def test_different_records_do_not_block_each_other(ledger: Ledger) -> None:
    with anyio.fail_after(2):
        async with ledger.lock("invoice", 1040), ledger.lock("invoice", 1041), ledger.lock("customer", 1040):
            pass


async def test_the_lock_is_released_when_the_body_fails(ledger: Ledger) -> None:
    with pytest.raises(RuntimeError):
        async with ledger.lock("invoice", 1040):
            raise RuntimeError("apply failed")
    with anyio.fail_after(1):
        async with ledger.lock("invoice", 1040):
            pass


async def test_a_waiter_can_be_cancelled(ledger: Ledger) -> None:
    async with ledger.lock("invoice", 1040):
        with pytest.raises(TimeoutError), anyio.fail_after(0.1):
            async with ledger.lock("invoice", 1040):
                pytest.fail("acquired a held lock")


HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import anyio
    from paymo_qb_mcp.store.ledger import Ledger

    async def main() -> None:
        with Ledger(Path(sys.argv[1])) as ledger:
            async with ledger.lock("invoice", 1040):
                print("locked", flush=True)
                await anyio.to_thread.run_sync(sys.stdin.readline)
            print("released", flush=True)

    anyio.run(main)
    """
)


def _start_holder(data_dir: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


async def test_two_processes_contend_for_one_record(tmp_path: Path) -> None:
    holder = _start_holder(tmp_path)
    try:
        with Ledger(tmp_path) as ledger:
            with pytest.raises(TimeoutError), anyio.fail_after(0.3):
                async with ledger.lock("invoice", 1040):
                    pytest.fail("acquired a lock another process holds")
            async with ledger.lock("invoice", 1041):
                pass  # another record is free
            assert holder.stdin is not None
            holder.stdin.write("go\n")
            holder.stdin.flush()
            with anyio.fail_after(10):
                async with ledger.lock("invoice", 1040):
                    pass
    finally:
        holder.wait(timeout=10)
    assert holder.returncode == 0


async def test_a_dead_holder_releases_its_lock(tmp_path: Path) -> None:
    holder = _start_holder(tmp_path)
    holder.kill()
    holder.wait(timeout=10)
    with Ledger(tmp_path) as ledger, anyio.fail_after(5):
        async with ledger.lock("invoice", 1040):
            pass
