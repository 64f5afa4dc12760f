"""The company data (sync.company): read once, caught up with one change data capture request, seen at once
after a human's change when a decision depends on it, dropped when it cannot be refreshed, and persisted
so a restarted server starts warm."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sync_support import SyncEnv

from paymo_qb_mcp.domain.matching import PaymoClientView
from paymo_qb_mcp.errors import Transient, UpstreamError
from paymo_qb_mcp.quickbooks import client as qbo_client_module
from paymo_qb_mcp.quickbooks.models import Customer, Item
from paymo_qb_mcp.sandbox.paymo import seed as paymo_seed
from paymo_qb_mcp.sandbox.quickbooks import seed as qbo_seed
from paymo_qb_mcp.sync.company import CacheSettings, CompanyData


def company(env: SyncEnv, directory: Path | None = None, **settings: float) -> CompanyData:
    return CompanyData(env.qbo, env.paymo, directory=directory, settings=CacheSettings(**settings))


def snapshots(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("qbo-*.json"))


def qbo_paths(env: SyncEnv, since: int) -> list[str]:
    """What QBO was asked since ``since``: the path's last part, and the entity of a query."""
    found: list[str] = []
    for entry in env.qbo_emu.request_log[since:]:
        last = entry.path.rsplit("/", 1)[-1]
        if last == "query":
            last = "query " + entry.query.split("FROM+", 1)[1].split("+", 1)[0]
        found.append(last)
    return found


async def test_lists_are_read_once_then_caught_up_with_one_request(sync_env: SyncEnv) -> None:
    data = company(sync_env, refresh_interval=0.0)
    customers = await data.customers()
    assert customers[qbo_seed.CUSTOMER_SMITH_AND_SONS].DisplayName == "Smith and Sons"
    assert data.stats["full_loads"] == 1

    before = len(sync_env.qbo_emu.request_log)
    await data.customers()
    await data.qbo_rows(Item)
    # Nothing changed: each use (refresh_interval 0) costs one change data capture, never a list.
    assert qbo_paths(sync_env, before) == ["cdc", "cdc"]
    assert data.stats["full_loads"] == 1


async def test_a_rename_in_quickbooks_is_seen_by_the_next_plan(sync_env: SyncEnv) -> None:
    data = company(sync_env)  # default refresh interval: seconds
    await data.customers()
    current = await sync_env.qbo.read(Customer, qbo_seed.CUSTOMER_SMITH_AND_SONS)
    await sync_env.qbo.update(
        Customer(Id=current.Id, SyncToken=current.SyncToken, DisplayName="Smith & Sons (Buffalo)"),
        request_id="bookkeeper-renames",
    )
    # Within the refresh interval the lists are reused as they are...
    stale = await data.customers()
    assert stale[qbo_seed.CUSTOMER_SMITH_AND_SONS].DisplayName == "Smith and Sons"
    # ...but a plan about to decide something catches up first, once.
    with data.plan_scope():
        await data.confirm_current()
        before = len(sync_env.qbo_emu.request_log)
        await data.confirm_current()
        assert qbo_paths(sync_env, before) == []
    fresh = await data.customers()
    assert fresh[qbo_seed.CUSTOMER_SMITH_AND_SONS].DisplayName == "Smith & Sons (Buffalo)"
    assert await data.party_name_holder("SMITH & SONS (BUFFALO) ") == (
        "customer",
        qbo_seed.CUSTOMER_SMITH_AND_SONS,
        "Smith & Sons (Buffalo)",
    )
    assert await data.party_name_holder("Smith and Sons") is None


async def test_a_customer_created_elsewhere_is_matched_after_a_catch_up(sync_env: SyncEnv) -> None:
    data = company(sync_env)
    stark = PaymoClientView(id=paymo_seed.STARK, name="Stark Industries", email="ap@stark.example")
    assert (await data.match_customer(stark)).decision == "none"
    created = await sync_env.qbo.create(Customer(DisplayName="Stark Industries"), request_id="elsewhere")
    with data.plan_scope():
        await data.confirm_current()
        found = await data.match_customer(stark)
    assert found.decision == "matched"
    assert found.customer is not None
    assert found.customer.id == created.Id


async def test_a_failed_catch_up_drops_the_data_in_memory_and_on_disk(
    sync_env: SyncEnv, tmp_path: Path
) -> None:
    data = company(sync_env, tmp_path, refresh_interval=0.0)
    await data.customers()
    await data.persist(force=True)
    assert snapshots(tmp_path)
    sync_env.qbo_emu.faults.fail_next(5, status=503, path_contains="/cdc")
    with pytest.raises(UpstreamError):
        await data.customers()
    assert not snapshots(tmp_path)
    # Never trusted again: the next use reads everything afresh.
    sync_env.qbo_emu.faults.clear()
    await data.customers()
    assert data.stats["full_loads"] == 2


async def test_a_restarted_server_starts_from_its_snapshot_and_only_catches_up(
    sync_env: SyncEnv, tmp_path: Path
) -> None:
    first = company(sync_env, tmp_path)
    await first.customers()
    await first.paymo_client(paymo_seed.ACME)
    await first.persist(force=True)
    await sync_env.qbo.create(Customer(DisplayName="Created While Down"), request_id="while-down")

    restarted = company(sync_env, tmp_path)
    before = len(sync_env.qbo_emu.request_log)
    customers = await restarted.customers()
    assert qbo_paths(sync_env, before) == ["cdc"]
    assert restarted.stats["full_loads"] == 0
    assert "Created While Down" in {customer.DisplayName for customer in customers.values()}
    paymo_before = len(sync_env.paymo_emu.request_log)
    client = await restarted.paymo_client(paymo_seed.ACME)
    assert client.name == "Acme Corporation"
    # Paymo too is caught up from the snapshot's mark (updated_on), not read whole.
    assert all("updated_on" in entry.query for entry in sync_env.paymo_emu.request_log[paymo_before:])


async def test_a_mark_older_than_the_change_data_capture_window_means_a_full_reload(
    sync_env: SyncEnv,
) -> None:
    data = company(sync_env, refresh_interval=0.0)
    await data.customers()
    now = dt.datetime.now(dt.UTC)
    data._wall_clock = lambda: now + dt.timedelta(days=30)
    before = len(sync_env.qbo_emu.request_log)
    await data.customers()
    assert "cdc" not in qbo_paths(sync_env, before)
    assert data.stats["full_loads"] == 2


async def test_an_answer_that_may_be_cut_at_the_cap_means_a_full_reload(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = company(sync_env, refresh_interval=0.0)
    await data.customers()
    # QBO answers at most this many objects; an answer that holds that many may have left some out.
    monkeypatch.setattr(qbo_client_module, "CDC_MAX_OBJECTS", 2)
    sync_env.qbo_emu.behaviour.cdc_max_objects = 2
    for name in ("One", "Two", "Three"):
        await sync_env.qbo.create(Customer(DisplayName=f"Customer {name}"), request_id=f"cap-{name}")
    customers = await data.customers()
    assert data.stats["full_loads"] == 2
    assert {"Customer One", "Customer Two", "Customer Three"} <= {c.DisplayName for c in customers.values()}


async def test_a_paymo_client_changed_a_moment_ago_is_seen_by_a_decision(sync_env: SyncEnv) -> None:
    data = company(sync_env)
    assert (await data.paymo_client(paymo_seed.HOOLI)).email != "billing@hooli.example"
    await sync_env.paymo.update_client(paymo_seed.HOOLI, {"email": "billing@hooli.example"})
    with data.plan_scope():
        await data.confirm_current()
        assert (await data.paymo_client(paymo_seed.HOOLI)).email == "billing@hooli.example"


async def test_settings_are_read_when_needed_and_a_refusal_makes_the_next_use_read_them_again(
    sync_env: SyncEnv,
) -> None:
    data = company(sync_env)
    facts = await data.facts()
    assert facts.home_currency == "CAD"
    before = len(sync_env.qbo_emu.request_log)
    await data.facts()
    assert qbo_paths(sync_env, before) == []
    data.mark_stale()
    await data.facts()
    assert set(qbo_paths(sync_env, before)) == {"preferences", qbo_seed.DEFAULT_REALM_ID}


async def test_a_transient_error_while_reading_settings_reaches_the_caller(sync_env: SyncEnv) -> None:
    data = company(sync_env)
    sync_env.qbo_emu.faults.fail_next(10, status=503, path_contains="/preferences")
    with pytest.raises(Transient):
        await data.facts()
