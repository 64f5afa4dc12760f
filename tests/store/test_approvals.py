"""Approvals: lifecycle, expiry, plan-hash binding, single use, redaction, other processes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import diskcache
import pytest

from paymo_qb_mcp.errors import ApprovalError
from paymo_qb_mcp.store.approvals import Approval, ApprovalStore, normalize_approval_id

T0 = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
PLAN = "9f2c" * 16
FAKE_TOKEN = "tok_live_5d41402abc4b2a76b9719d911017c592"


class ManualClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[ApprovalStore]:
    with ApprovalStore(tmp_path, clock=clock, known_secrets=[FAKE_TOKEN]) as opened:
        yield opened


def request(
    store: ApprovalStore,
    *,
    tool: str = "sync_invoice",
    plan_hash: str = PLAN,
    expires_at: datetime = T0 + timedelta(minutes=15),
    **options: Any,
) -> Approval:
    return store.create(
        tool,
        {"paymo_invoice_id": 1040, "dry_run": False},
        plan_hash,
        "Create QBO invoice INV-2026-1040 for ACME Corp.",
        {"CAD": Decimal("11845.73")},
        expires_at,
        **options,
    )


def test_created_approval_is_pending_with_a_typable_id(store: ApprovalStore) -> None:
    approval = request(store)
    assert re.fullmatch(r"apr_[0-9A-HJKMNP-TV-Z]{6}", approval.id)
    assert approval.status == "pending"
    assert approval.totals == {"CAD": Decimal("11845.73")}
    assert store.get(approval.id) == approval
    assert store.list_pending() == [approval]


def test_ids_are_unique(store: ApprovalStore) -> None:
    ids = {request(store, plan_hash=f"{n:064}").id for n in range(50)}
    assert len(ids) == 50


def test_ids_tolerate_case_and_lookalike_letters() -> None:
    assert normalize_approval_id("apr_7k2m9q") == "apr_7K2M9Q"
    assert normalize_approval_id(" 7K2M9Q ") == "apr_7K2M9Q"
    assert normalize_approval_id("APR_7K2MOL") == "apr_7K2M01"


def test_approve_then_consume_once(store: ApprovalStore, clock: ManualClock) -> None:
    approval = request(store)
    clock.advance(minutes=2)
    approved = store.approve(approval.id.lower(), "alice")
    assert (approved.status, approved.decided_by, approved.decided_at) == ("approved", "alice", clock.now)
    assert store.list_pending() == []

    clock.advance(minutes=1)
    used = store.consume(approval.id, "sync_invoice", PLAN)
    assert (used.status, used.used_at) == ("used", clock.now)

    with pytest.raises(
        ApprovalError, match=f"approval {approval.id} was already used at 2026-11-03T14:03:00"
    ):
        store.consume(approval.id, "sync_invoice", PLAN)


def test_consume_before_approval_says_a_human_must_approve(store: ApprovalStore) -> None:
    approval = request(store)
    with pytest.raises(
        ApprovalError, match=rf"still waiting for a human.*paymo-qb-mcp approve {approval.id}"
    ):
        store.consume(approval.id, "sync_invoice", PLAN)
    assert store.get(approval.id).status == "pending"  # type: ignore[union-attr]


def test_unknown_id(store: ApprovalStore) -> None:
    with pytest.raises(ApprovalError, match="there is no approval apr_ZZZZZZ"):
        store.consume("apr_ZZZZZZ", "sync_invoice", PLAN)
    with pytest.raises(ApprovalError, match="there is no approval"):
        store.approve("apr_ZZZZZZ", "alice")
    assert store.get("apr_ZZZZZZ") is None


def test_an_approval_voided_by_an_older_version_stays_void(store: ApprovalStore, tmp_path: Path) -> None:
    # Versions before the hardening voided an approval presented with another plan.
    approval = request(store)
    store.approve(approval.id, "alice")
    with diskcache.Cache(str(tmp_path / "approvals")) as raw:
        raw[approval.id] = {**raw[approval.id], "status": "void"}
    with pytest.raises(ApprovalError, match=f"approval {approval.id} is void"):
        store.consume(approval.id, "sync_invoice", PLAN)


def test_an_approval_for_another_tool_is_refused(store: ApprovalStore) -> None:
    approval = request(store)
    store.approve(approval.id, "alice")
    with pytest.raises(ApprovalError, match="was given for sync_invoice, not mark_paid"):
        store.consume(approval.id, "mark_paid", PLAN)
    assert store.consume(approval.id, "sync_invoice", PLAN).status == "used"


def test_rejected_approval_cannot_be_used(store: ApprovalStore) -> None:
    approval = request(store)
    rejected = store.reject(approval.id, "bob", "wrong customer")
    assert (rejected.status, rejected.reason) == ("rejected", "wrong customer")
    with pytest.raises(ApprovalError, match="was rejected by bob: wrong customer"):
        store.consume(approval.id, "sync_invoice", PLAN)
    with pytest.raises(ApprovalError, match="was rejected"):
        store.approve(approval.id, "alice")


def test_an_approved_but_unused_approval_can_still_be_rejected(store: ApprovalStore) -> None:
    approval = request(store)
    store.approve(approval.id, "alice")
    store.reject(approval.id, "alice", "changed my mind")
    with pytest.raises(ApprovalError, match="changed my mind"):
        store.consume(approval.id, "sync_invoice", PLAN)


def test_approving_twice_is_reported(store: ApprovalStore) -> None:
    approval = request(store)
    store.approve(approval.id, "alice")
    with pytest.raises(ApprovalError, match="already approved by alice"):
        store.approve(approval.id, "bob")


def test_expiry_follows_the_clock(store: ApprovalStore, clock: ManualClock) -> None:
    late_to_approve = request(store)
    late_to_use = request(store, plan_hash="1" * 64)
    clock.advance(minutes=14, seconds=59)
    store.approve(late_to_use.id, "alice")
    assert store.list_pending() == [store.get(late_to_approve.id)]

    clock.advance(seconds=1)
    assert store.list_pending() == []
    with pytest.raises(ApprovalError, match=f"approval {late_to_approve.id} expired at 2026-11-03T14:15:00"):
        store.approve(late_to_approve.id, "alice")
    with pytest.raises(ApprovalError, match="expired"):
        store.consume(late_to_use.id, "sync_invoice", "1" * 64)


def test_expiry_must_be_in_the_future(store: ApprovalStore) -> None:
    with pytest.raises(ValueError, match="future"):
        store.create("sync_invoice", {}, PLAN, "s", {}, T0)


def test_approver_is_required(store: ApprovalStore) -> None:
    approval = request(store)
    with pytest.raises(ApprovalError, match="name of the human"):
        store.approve(approval.id, "  ")


def test_arguments_are_stored_redacted(store: ApprovalStore, tmp_path: Path) -> None:
    approval = store.create(
        "sync_invoice",
        {"paymo_invoice_id": 1040, "access_token": FAKE_TOKEN, "note": f"use {FAKE_TOKEN} please"},
        PLAN,
        f"summary mentioning {FAKE_TOKEN}",
        {},
        T0 + timedelta(minutes=15),
    )
    assert approval.arguments == {"paymo_invoice_id": 1040, "access_token": "***", "note": "use *** please"}
    assert FAKE_TOKEN not in approval.summary
    stored = b"".join(path.read_bytes() for path in (tmp_path / "approvals").rglob("*") if path.is_file())
    assert FAKE_TOKEN.encode() not in stored


def test_approvals_persist_across_instances(tmp_path: Path, clock: ManualClock) -> None:
    with ApprovalStore(tmp_path, clock=clock) as first:
        approval = request(first)
    with ApprovalStore(tmp_path, clock=clock) as second:
        assert second.get(approval.id) == approval


APPROVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from paymo_qb_mcp.store.approvals import ApprovalStore

    with ApprovalStore(Path(sys.argv[1])) as store:
        print(store.approve(sys.argv[2], "carol").status)
    """
)


def test_another_process_can_approve(tmp_path: Path) -> None:
    # Real clock here: the other process has its own.
    with ApprovalStore(tmp_path) as server_side:
        approval = server_side.create(
            "sync_invoice", {}, PLAN, "summary", {}, datetime.now(UTC) + timedelta(minutes=15)
        )
        result = subprocess.run(
            [sys.executable, "-c", APPROVER, str(tmp_path), approval.id],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert result.stdout.strip() == "approved"
        used = server_side.consume(approval.id, "sync_invoice", PLAN)
        assert (used.status, used.decided_by) == ("used", "carol")


def test_pending_approvals_are_listed_from_an_index_not_by_reading_every_approval(
    tmp_path: Path, store: ApprovalStore, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rejected, approved, used, mismatched, expiring = (request(store, plan_hash=f"{n}" * 64) for n in range(5))
    waiting = request(store)
    store.reject(rejected.id, "alice")
    store.approve(approved.id, "alice")
    store.approve(used.id, "alice")
    store.consume(used.id, "sync_invoice", "2" * 64)
    with pytest.raises(ApprovalError, match="another plan"):
        store.consume(mismatched.id, "sync_invoice", "another plan")  # refused, still waiting
    clock.advance(minutes=1)
    later = store.create("sync_invoice", {}, "5" * 64, "later", {}, T0 + timedelta(minutes=30))
    with monkeypatch.context() as patched:
        patched.setattr(diskcache.Cache, "iterkeys", lambda *a, **k: pytest.fail("every approval was read"))
        pending = [a.id for a in store.list_pending()]
        assert sorted(pending[:3]) == sorted([mismatched.id, expiring.id, waiting.id])
        assert pending[3:] == [later.id]
        # Asking again for a waiting plan, and the cap's count, read the index too.
        assert request(store, max_pending=10).id == waiting.id
        clock.advance(minutes=14)  # the first six expire and leave the index
        assert [a.id for a in store.list_pending()] == [later.id]
    # A store from before the index: it is built once from the approvals, when opened.
    with diskcache.Cache(str(tmp_path / "approvals")) as raw:
        assert raw["index:pending"]["ids"] == [later.id]
        del raw["index:pending"]
    with ApprovalStore(tmp_path, clock=clock) as reopened:
        assert [a.id for a in reopened.list_pending()] == [later.id]


# --- governance edges: a mismatched presentation, identical requests, the cap -------------------


def test_a_mismatched_plan_is_refused_and_the_approval_stays_approved(store: ApprovalStore) -> None:
    approval = request(store)
    store.approve(approval.id, "alice")
    with pytest.raises(ApprovalError, match=rf"approval {approval.id} was approved for another plan"):
        store.consume(approval.id, "sync_invoice", "0" * 64)
    # An agent presenting it with another plan cannot throw the human's decision away.
    kept = store.get(approval.id)
    assert kept is not None
    assert (kept.status, kept.decided_by, kept.used_at) == ("approved", "alice", None)
    assert store.consume(approval.id, "sync_invoice", PLAN).status == "used"


def test_a_mismatched_plan_leaves_a_waiting_approval_waiting(store: ApprovalStore) -> None:
    approval = request(store)
    with pytest.raises(ApprovalError, match="was requested for another plan"):
        store.consume(approval.id, "sync_invoice", "0" * 64)
    assert [waiting.id for waiting in store.list_pending()] == [approval.id]
    store.approve(approval.id, "alice")
    assert store.consume(approval.id, "sync_invoice", PLAN).status == "used"


def test_another_tool_leaves_the_approval_waiting(store: ApprovalStore) -> None:
    approval = request(store)
    with pytest.raises(ApprovalError, match="was given for sync_invoice, not mark_paid"):
        store.consume(approval.id, "mark_paid", PLAN)
    assert [waiting.id for waiting in store.list_pending()] == [approval.id]


def test_identical_waiting_plans_share_one_approval(store: ApprovalStore, clock: ManualClock) -> None:
    first = request(store)
    clock.advance(minutes=5)
    again = [request(store, expires_at=clock.now + timedelta(minutes=15)) for _ in range(19)]
    assert {approval.id for approval in again} == {first.id}
    shared = store.get(first.id)
    assert shared is not None
    # Asking again does not move the deadline the human was given.
    assert (shared.expires_at, shared.requests, shared.last_requested_at) == (first.expires_at, 20, clock.now)
    assert again[-1] == shared
    assert store.list_pending() == [shared]
    # Another plan, or the same hash for another tool, is another decision.
    assert request(store, plan_hash="1" * 64).id != first.id
    assert request(store, tool="mark_paid").id != first.id
    assert len(store.list_pending()) == 3


def test_only_a_waiting_unexpired_approval_is_shared(store: ApprovalStore, clock: ManualClock) -> None:
    approved = request(store)
    store.approve(approved.id, "alice")
    after_approval = request(store)
    assert after_approval.id != approved.id
    store.reject(after_approval.id, "bob")
    after_rejection = request(store)
    assert after_rejection.id not in (approved.id, after_approval.id)
    clock.advance(minutes=15)
    after_expiry = request(store, expires_at=clock.now + timedelta(minutes=15))
    assert after_expiry.id != after_rejection.id
    assert store.list_pending() == [after_expiry]


def test_another_process_asking_for_the_same_plan_gets_the_same_approval(
    tmp_path: Path, clock: ManualClock
) -> None:
    with ApprovalStore(tmp_path, clock=clock) as one, ApprovalStore(tmp_path, clock=clock) as other:
        assert request(one).id == request(other).id


def test_waiting_approvals_are_capped_per_tool(store: ApprovalStore, clock: ManualClock) -> None:
    waiting = [request(store, plan_hash=f"{n}" * 64, max_pending=3) for n in range(3)]
    with pytest.raises(ApprovalError) as refused:
        request(store, plan_hash="9" * 64, max_pending=3)
    text = str(refused.value)
    assert "sync_invoice already has 3 approvals waiting for a human" in text
    assert "approvals.max_pending_per_tool" in text
    assert "paymo-qb-mcp pending" in text
    assert "paymo-qb-mcp reject ID" in text
    assert "2026-11-03T14:15:00" in text  # when the first of them expires
    assert len(store.list_pending()) == 3
    # At the cap an identical plan still gets its approval; another tool has its own count.
    assert request(store, plan_hash="0" * 64, max_pending=3).id == waiting[0].id
    assert request(store, tool="mark_paid", max_pending=3).status == "pending"
    # A decision frees a place, and so does an expiry.
    store.reject(waiting[0].id, "alice")
    request(store, plan_hash="9" * 64, max_pending=3)
    with pytest.raises(ApprovalError, match="already has 3 approvals waiting"):
        request(store, plan_hash="8" * 64, max_pending=3)
    clock.advance(minutes=15)
    fresh = [
        request(store, plan_hash=f"{n}" * 64, expires_at=clock.now + timedelta(minutes=15), max_pending=3)
        for n in range(4, 7)
    ]
    assert {approval.status for approval in fresh} == {"pending"}


def test_an_approval_stored_before_repeat_counting_reads_as_asked_once(store: ApprovalStore) -> None:
    row = request(store).to_row()
    del row["requests"], row["last_requested_at"]
    old = Approval.from_row(row)
    assert (old.requests, old.last_requested_at) == (1, old.created_at)
