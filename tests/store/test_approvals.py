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


def request(store: ApprovalStore, *, tool: str = "sync_invoice", plan_hash: str = PLAN) -> Approval:
    return store.create(
        tool,
        {"paymo_invoice_id": 1040, "dry_run": False},
        plan_hash,
        "Create QBO invoice INV-2026-1040 for ACME Corp.",
        {"CAD": Decimal("11845.73")},
        T0 + timedelta(minutes=15),
    )


def test_created_approval_is_pending_with_a_typable_id(store: ApprovalStore) -> None:
    approval = request(store)
    assert re.fullmatch(r"apr_[0-9A-HJKMNP-TV-Z]{6}", approval.id)
    assert approval.status == "pending"
    assert approval.totals == {"CAD": Decimal("11845.73")}
    assert store.get(approval.id) == approval
    assert store.list_pending() == [approval]


def test_ids_are_unique(store: ApprovalStore) -> None:
    ids = {request(store).id for _ in range(50)}
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


def test_changed_plan_voids_the_approval(store: ApprovalStore) -> None:
    approval = request(store)
    store.approve(approval.id, "alice")
    with pytest.raises(ApprovalError, match="the plan changed since it was approved; ask for a new approval"):
        store.consume(approval.id, "sync_invoice", "0" * 64)
    # Void for good: the original plan cannot use it afterwards either.
    with pytest.raises(ApprovalError, match="is void"):
        store.consume(approval.id, "sync_invoice", PLAN)
    assert store.get(approval.id).status == "void"  # type: ignore[union-attr]


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
    late_to_use = request(store)
    clock.advance(minutes=14, seconds=59)
    store.approve(late_to_use.id, "alice")
    assert store.list_pending() == [store.get(late_to_approve.id)]

    clock.advance(seconds=1)
    assert store.list_pending() == []
    with pytest.raises(ApprovalError, match=f"approval {late_to_approve.id} expired at 2026-11-03T14:15:00"):
        store.approve(late_to_approve.id, "alice")
    with pytest.raises(ApprovalError, match="expired"):
        store.consume(late_to_use.id, "sync_invoice", PLAN)


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
    rejected, approved, used, void, expiring = (request(store, plan_hash=f"{n}" * 64) for n in range(5))
    waiting = request(store)
    store.reject(rejected.id, "alice")
    store.approve(approved.id, "alice")
    store.approve(used.id, "alice")
    store.consume(used.id, "sync_invoice", "2" * 64)
    with pytest.raises(ApprovalError, match="void"):
        store.consume(void.id, "sync_invoice", "another plan")
    clock.advance(minutes=1)
    later = store.create("sync_invoice", {}, PLAN, "later", {}, T0 + timedelta(minutes=30))
    with monkeypatch.context() as patched:
        patched.setattr(diskcache.Cache, "iterkeys", lambda *a, **k: pytest.fail("every approval was read"))
        pending = [a.id for a in store.list_pending()]
        assert sorted(pending[:2]) == sorted([expiring.id, waiting.id])
        assert pending[2:] == [later.id]
        clock.advance(minutes=14)  # the first six expire and leave the index
        assert [a.id for a in store.list_pending()] == [later.id]
    # A store from before the index: it is built once from the approvals, when opened.
    with diskcache.Cache(str(tmp_path / "approvals")) as raw:
        assert raw["index:pending"]["ids"] == [later.id]
        del raw["index:pending"]
    with ApprovalStore(tmp_path, clock=clock) as reopened:
        assert [a.id for a in reopened.list_pending()] == [later.id]
