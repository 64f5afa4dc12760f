"""The ledger's counts (links per kind, pending intents): kept in step with every write, in the same
transaction, so a crash cannot leave them wrong; built once for a ledger written before they existed;
and read without walking the ledger — sync_status costs the same at any size (the pending approvals it
also lists are read from their own index: tests/store/test_approvals.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import diskcache
import pytest

from paymo_qb_mcp.errors import InputError
from paymo_qb_mcp.store.ledger import Ledger, LedgerCounts


def walked(ledger: Ledger) -> LedgerCounts:
    """The counts the slow way: every link and intent read."""
    links: dict[str, int] = {}
    for link in ledger.links():
        links[link.kind] = links.get(link.kind, 0) + 1
    return LedgerCounts(links=dict(sorted(links.items())), pending_intents=len(ledger.pending_intents()))


def refuse_walking(monkeypatch: pytest.MonkeyPatch) -> None:
    def walk(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError("the ledger was walked")

    monkeypatch.setattr(Ledger, "_scan", walk)
    monkeypatch.setattr(diskcache.Cache, "iterkeys", walk)
    monkeypatch.setattr(diskcache.Cache, "__iter__", walk)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path) as opened:
        yield opened


def test_counts_follow_every_kind_of_write(ledger: Ledger) -> None:
    assert ledger.counts() == LedgerCounts(links={}, pending_intents=0)
    ledger.record_intent("invoice", 1035, "req-1", "h")
    ledger.record_intent("invoice", 1035, "req-2", "h")  # replaces: still one
    ledger.record_intent("customer", 7, "req-3", "h")
    assert ledger.counts() == LedgerCounts(links={}, pending_intents=2)

    ledger.save_link("invoice", 1035, "146", sync_token="0", content_hash="h", origin="ours")  # clears it
    ledger.save_link("invoice", 1035, "147", sync_token="1", content_hash="h", origin="ours")  # relinked
    ledger.save_link("invoice", 1036, "148", sync_token="0", content_hash="h", origin="ours")
    ledger.save_link("customer", 8, "58", sync_token=None, content_hash="h", origin="quickbooks")
    assert ledger.counts() == LedgerCounts(links={"customer": 1, "invoice": 2}, pending_intents=1)

    with pytest.raises(InputError):  # refused inside its transaction: nothing counted either
        ledger.save_link("invoice", 1037, "148", sync_token="0", content_hash="h", origin="ours")
    ledger.clear_intent("customer", 7)
    ledger.clear_intent("customer", 7)  # nothing left to clear
    assert ledger.remove_link("customer", 8) is True
    assert ledger.remove_link("customer", 8) is False
    ledger.mark_done("time_entry", 40001, "TimeActivity 1")
    ledger.set_cursor("paymo", "2026-11-20")
    assert ledger.counts() == LedgerCounts(links={"invoice": 2}, pending_intents=0)
    assert ledger.counts() == walked(ledger)


def test_counts_are_read_without_walking_the_ledger(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(50):
        ledger.save_link("invoice", n, f"q{n}", sync_token="0", content_hash="h", origin="ours")
    ledger.record_intent("invoice", 99, "req", "h")
    refuse_walking(monkeypatch)
    assert ledger.counts() == LedgerCounts(links={"invoice": 50}, pending_intents=1)
    ledger.save_link("invoice", 99, "q99", sync_token="0", content_hash="h", origin="ours")
    assert ledger.counts() == LedgerCounts(links={"invoice": 51}, pending_intents=0)


def test_a_ledger_written_before_counts_gets_them_built_once(tmp_path: Path) -> None:
    with Ledger(tmp_path) as ledger:
        ledger.save_link("invoice", 1, "10", sync_token="0", content_hash="h", origin="ours")
        ledger.save_link("customer", 2, "20", sync_token=None, content_hash="h", origin="paymo")
        ledger.record_intent("invoice", 3, "req", "h")
        expected = walked(ledger)
    with diskcache.Cache(str(tmp_path / "ledger")) as raw:  # as an earlier release left it
        [counts_key] = [key for key in raw.iterkeys() if key.startswith("meta")]
        del raw[counts_key]
    with Ledger(tmp_path) as reopened:
        assert reopened.counts() == expected == LedgerCounts({"customer": 1, "invoice": 1}, 1)
        reopened.save_link("invoice", 3, "30", sync_token="0", content_hash="h", origin="ours")
        assert reopened.counts() == walked(reopened) == LedgerCounts({"customer": 1, "invoice": 2}, 0)


def test_counts_lost_while_open_are_built_again(ledger: Ledger, tmp_path: Path) -> None:
    ledger.save_link("invoice", 1, "10", sync_token="0", content_hash="h", origin="ours")
    with diskcache.Cache(str(tmp_path / "ledger")) as raw:
        [counts_key] = [key for key in raw.iterkeys() if key.startswith("meta")]
        del raw[counts_key]
    ledger.save_link("invoice", 2, "20", sync_token="0", content_hash="h", origin="ours")
    assert ledger.counts() == LedgerCounts({"invoice": 2}, 0)


CRASH_IN_A_WRITE = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from paymo_qb_mcp.store.ledger import Ledger

    ledger = Ledger(Path(sys.argv[1]))
    ledger.save_link("invoice", 1, "10", sync_token="0", content_hash="h", origin="ours")
    ledger.record_intent("invoice", 2, "req", "h")

    def die(*args, **kwargs):
        os._exit(9)  # the link rows are written, the counts not yet, nothing committed

    Ledger._count = die
    ledger.save_link("invoice", 2, "20", sync_token="0", content_hash="h", origin="ours")
    """
)


def test_a_crash_in_the_middle_of_a_write_leaves_counts_and_rows_in_step(tmp_path: Path) -> None:
    crashed = subprocess.run([sys.executable, "-c", CRASH_IN_A_WRITE, str(tmp_path)], check=False)
    assert crashed.returncode == 9
    with Ledger(tmp_path) as ledger:
        assert ledger.link("invoice", 2) is None  # the whole transaction was rolled back
        assert ledger.intent("invoice", 2) is not None
        assert ledger.counts() == walked(ledger) == LedgerCounts({"invoice": 1}, 1)
