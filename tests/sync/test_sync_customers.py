"""Client ↔ customer matching, linking and creation against the emulators, read back from both APIs."""

from __future__ import annotations

import pytest
from sync_support import SyncEnv

from paymo_qb_mcp.domain.keys import marker
from paymo_qb_mcp.domain.plan import Plan
from paymo_qb_mcp.errors import ReconciliationError
from paymo_qb_mcp.quickbooks.models import Customer, Vendor
from paymo_qb_mcp.quickbooks.query import eq, in_
from paymo_qb_mcp.sandbox.paymo import seed as paymo_seed
from paymo_qb_mcp.sandbox.quickbooks import seed as qbo_seed
from paymo_qb_mcp.sync.customers import customer_for_invoice, plan_client_match


async def all_customers(env: SyncEnv) -> list[Customer]:
    return await env.qbo.query_all(Customer, in_("Active", [True, False]))


def writes(plan: Plan) -> list[tuple[str, str]]:
    return [(change.action, change.entity) for change in plan.writes]


@pytest.mark.parametrize(
    ("client_id", "customer_id"),
    [
        pytest.param(paymo_seed.ACME, qbo_seed.CUSTOMER_ACME, id="acme-suffix-case-domain"),
        pytest.param(paymo_seed.CAFE_LUMIERE, qbo_seed.CUSTOMER_CAFE_LUMIERE, id="cafe-lumiere-accents"),
        pytest.param(paymo_seed.SMITH_AND_SONS, qbo_seed.CUSTOMER_SMITH_AND_SONS, id="smith-ampersand-email"),
        pytest.param(paymo_seed.GLOBEX, qbo_seed.CUSTOMER_GLOBEX, id="globex-usd"),
        pytest.param(paymo_seed.INITECH, qbo_seed.CUSTOMER_INITECH, id="initech-email"),
        pytest.param(paymo_seed.OREILLY, qbo_seed.CUSTOMER_OREILLY, id="oreilly-typographic-apostrophe"),
    ],
)
async def test_matched_client_is_linked_once_and_nothing_is_written_to_quickbooks(
    sync_env: SyncEnv, client_id: int, customer_id: str
) -> None:
    before = {c.Id: c.SyncToken for c in await all_customers(sync_env)}

    found = await sync_env.service.plan_client_match(client_id)

    assert found.match.decision == "matched"
    assert found.match.customer is not None
    assert found.match.customer.id == customer_id
    assert found.match.candidates[0].reasons, "every candidate explains its score"
    assert writes(found.plan) == [("link", "customer")]
    assert found.plan.writes[0].target == "ledger"
    assert not found.plan.blocked

    await sync_env.service.apply(found.plan)

    link = sync_env.ledger.link("customer", client_id)
    assert link is not None
    assert link.qbo_id == customer_id
    reverse = sync_env.ledger.link_by_qbo("customer", customer_id)
    assert reverse is not None
    assert reverse.paymo_id == str(client_id)
    assert {c.Id: c.SyncToken for c in await all_customers(sync_env)} == before
    again = await sync_env.service.plan_client_match(client_id)
    assert again.plan.is_noop
    assert [change.action for change in again.plan.changes] == ["skip"]
    assert again.match.candidates[0].reasons[0] == "stored link"


async def test_typographic_apostrophe_matches_the_ascii_customer_by_email_and_name(sync_env: SyncEnv) -> None:
    client = await sync_env.paymo.get_client(paymo_seed.OREILLY)
    assert "\u2019" in client.name

    found = await sync_env.service.plan_client_match(paymo_seed.OREILLY)

    assert found.match.customer is not None
    assert found.match.customer.display_name == "O'Reilly Media"
    # The query builder folds the typographic apostrophe, so a name lookup finds the same record.
    rows = await sync_env.qbo.query_all(Customer, eq("DisplayName", client.name))
    assert [row.Id for row in rows] == [qbo_seed.CUSTOMER_OREILLY]


async def test_same_name_different_organisation_is_never_merged(sync_env: SyncEnv) -> None:
    found = await sync_env.service.plan_client_match(paymo_seed.JONES)

    assert found.match.decision != "matched"
    assert found.plan.is_noop
    london = next(c for c in found.match.candidates if c.id == qbo_seed.CUSTOMER_JONES_CONSULTING)
    assert any("different organisation" in reason for reason in london.reasons)

    created = await sync_env.service.plan_client_match(paymo_seed.JONES, create_if_missing=True)
    assert writes(created.plan) == [("create", "customer")]
    name = created.plan.writes[0].payload["DisplayName"]  # type: ignore[index]
    assert name == "Jones Consulting (customer)"
    collision = next(f for f in created.plan.findings if f.code == "DUPLICATE_NAME")
    assert collision.severity == "warning"
    assert (
        f"link Paymo client {paymo_seed.JONES} to customer {qbo_seed.CUSTOMER_JONES_CONSULTING}"
        in collision.message
    )

    outcome = await sync_env.service.apply(created.plan)

    new_id = outcome.applied[0].qbo_id
    assert new_id is not None
    assert new_id != qbo_seed.CUSTOMER_JONES_CONSULTING
    london_customer = await sync_env.qbo.read(Customer, qbo_seed.CUSTOMER_JONES_CONSULTING)
    assert london_customer.PrimaryEmailAddr is not None
    assert london_customer.PrimaryEmailAddr.Address == "office@jones-consulting-uk.example"
    assert london_customer.SyncToken == "0"


async def test_two_close_candidates_are_ambiguous_and_nothing_is_linked_or_created(sync_env: SyncEnv) -> None:
    count = len(await all_customers(sync_env))

    found = await sync_env.service.plan_client_match(paymo_seed.UMBRELLA, create_if_missing=True)

    assert found.match.decision == "ambiguous"
    assert {c.id for c in found.match.candidates[:2]} == {
        qbo_seed.CUSTOMER_UMBRELLA_EAST,
        qbo_seed.CUSTOMER_UMBRELLA_WEST,
    }
    assert found.plan.is_noop
    assert found.plan.blocked
    assert [f.code for f in found.plan.findings if f.severity == "blocker"] == ["AMBIGUOUS_MATCH"]
    with pytest.raises(ReconciliationError):
        await sync_env.service.apply(found.plan)
    assert len(await all_customers(sync_env)) == count
    assert sync_env.ledger.link("customer", paymo_seed.UMBRELLA) is None


async def test_ambiguous_client_blocks_an_invoice_customer(sync_env: SyncEnv) -> None:
    resolution = await customer_for_invoice(sync_env.ctx, paymo_seed.UMBRELLA, "CAD")

    assert resolution.blocked
    assert resolution.customer_ref is None
    assert resolution.changes == ()


async def test_no_match_creates_the_customer_only_when_asked(sync_env: SyncEnv) -> None:
    found = await sync_env.service.plan_client_match(paymo_seed.STARK)
    assert found.match.decision == "none"
    assert found.plan.is_noop
    assert [f.code for f in found.plan.findings] == ["NO_CUSTOMER"]

    created = await sync_env.service.plan_client_match(paymo_seed.STARK, create_if_missing=True)
    assert writes(created.plan) == [("create", "customer")]
    change = created.plan.writes[0]
    assert change.after is not None
    assert change.after["currency"] == "CAD"

    outcome = await sync_env.service.apply(created.plan)

    assert [item.outcome for item in outcome.applied] == ["created"]
    assert outcome.findings == []
    rows = await sync_env.qbo.query_all(Customer, eq("DisplayName", "Stark Industries"))
    assert len(rows) == 1
    customer = rows[0]
    assert customer.CurrencyRef is not None
    assert customer.CurrencyRef.value == "CAD"
    assert customer.PrimaryEmailAddr is not None
    assert customer.PrimaryEmailAddr.Address == "tony@stark.example"
    assert customer.BillAddr is not None
    assert customer.BillAddr.City == "Malibu"
    assert marker("client", paymo_seed.STARK) in (customer.Notes or "")
    link = sync_env.ledger.link("customer", paymo_seed.STARK)
    assert link is not None
    assert link.qbo_id == customer.Id
    assert link.origin == "ours"
    again = await sync_env.service.plan_client_match(paymo_seed.STARK, create_if_missing=True)
    assert again.plan.is_noop
    assert again.match.customer is not None
    assert again.match.customer.id == customer.Id


async def test_name_taken_by_a_vendor_is_resolved_at_plan_time(sync_env: SyncEnv) -> None:
    found = await sync_env.service.plan_client_match(paymo_seed.WAYNE, create_if_missing=True)

    assert writes(found.plan) == [("create", "customer")]
    assert found.plan.writes[0].payload["DisplayName"] == "Wayne Enterprises (customer)"  # type: ignore[index]
    collision = next(f for f in found.plan.findings if f.code == "DUPLICATE_NAME")
    assert "vendor 'Wayne Enterprises'" in collision.message
    assert "6240" in collision.message

    await sync_env.service.apply(found.plan)

    created = await sync_env.qbo.query_all(Customer, eq("DisplayName", "Wayne Enterprises (customer)"))
    assert len(created) == 1
    vendor = await sync_env.qbo.read(Vendor, qbo_seed.VENDOR_WAYNE)
    assert vendor.DisplayName == "Wayne Enterprises"
    assert vendor.SyncToken == "0"


async def test_inactive_match_is_reactivated_as_a_planned_change(sync_env: SyncEnv) -> None:
    found = await sync_env.service.plan_client_match(paymo_seed.HOOLI)

    assert found.match.decision == "matched"
    assert writes(found.plan) == [("update", "customer")]
    change = found.plan.writes[0]
    assert change.before == {"Active": False}
    assert change.payload == {"Active": True}
    assert any(f.code == "REACTIVATION" for f in found.plan.findings)

    await sync_env.service.apply(found.plan)

    hooli = await sync_env.qbo.read(Customer, qbo_seed.CUSTOMER_HOOLI)
    assert hooli.Active is True
    link = sync_env.ledger.link("customer", paymo_seed.HOOLI)
    assert link is not None
    assert link.qbo_id == qbo_seed.CUSTOMER_HOOLI


async def test_reserved_characters_are_sanitised_and_shown(sync_env: SyncEnv) -> None:
    found = await sync_env.service.plan_client_match(paymo_seed.SOYLENT, create_if_missing=True)

    sanitised = next(f for f in found.plan.findings if f.code == "NAME_SANITIZED")
    assert "'Soylent: Foods'" in sanitised.message
    assert "'Soylent - Foods'" in sanitised.message

    await sync_env.service.apply(found.plan)

    rows = await sync_env.qbo.query_all(Customer, eq("DisplayName", "Soylent - Foods"))
    assert len(rows) == 1
    paymo_client = await sync_env.paymo.get_client(paymo_seed.SOYLENT)
    assert paymo_client.name == "Soylent: Foods"


async def test_update_details_is_a_sparse_update_with_field_level_before_and_after(sync_env: SyncEnv) -> None:
    # The client moved and got a phone line; Paymo knows, QBO does not yet.
    await sync_env.paymo.update_client(
        paymo_seed.SMITH_AND_SONS,
        {
            "address": "200 Delaware Ave",
            "city": "Buffalo",
            "postal_code": "14202",
            "phone": "+1 716 555 0100",
        },
    )
    stale = await sync_env.qbo.read(Customer, qbo_seed.CUSTOMER_SMITH_AND_SONS)
    assert stale.BillAddr is not None
    assert stale.PrimaryPhone is None

    found = await sync_env.service.plan_client_match(paymo_seed.SMITH_AND_SONS, update_details=True)

    assert writes(found.plan) == [("update", "customer")]
    change = found.plan.writes[0]
    assert change.before is not None
    assert change.after is not None
    assert change.payload is not None
    assert change.before["BillAddr.Line1"] == stale.BillAddr.Line1
    assert change.after["BillAddr.Line1"] == "200 Delaware Ave"
    assert change.before["PrimaryPhone.FreeFormNumber"] is None
    assert change.after["PrimaryPhone.FreeFormNumber"] == "+1 716 555 0100"
    assert {path.split(".")[0] for path in change.before} == {"BillAddr", "PrimaryPhone"}
    assert set(change.payload) == {"BillAddr", "PrimaryPhone"}  # the e-mail is equal: not sent

    await sync_env.service.apply(found.plan)

    customer = await sync_env.qbo.read(Customer, qbo_seed.CUSTOMER_SMITH_AND_SONS)
    assert customer.BillAddr is not None
    assert (customer.BillAddr.Line1, customer.BillAddr.City, customer.BillAddr.PostalCode) == (
        "200 Delaware Ave",
        "Buffalo",
        "14202",
    )
    assert customer.PrimaryPhone is not None
    assert customer.PrimaryPhone.FreeFormNumber == "+1 716 555 0100"
    assert customer.PrimaryEmailAddr is not None
    assert customer.PrimaryEmailAddr.Address == "office@smithsons.example"
    assert customer.DisplayName == "Smith and Sons"
    again = await sync_env.service.plan_client_match(paymo_seed.SMITH_AND_SONS, update_details=True)
    assert again.plan.is_noop


async def test_invoice_in_another_currency_than_the_customer_is_blocked(sync_env: SyncEnv) -> None:
    resolution = await customer_for_invoice(sync_env.ctx, paymo_seed.GLOBEX, "CAD")

    assert resolution.blocked
    blocker = next(f for f in resolution.findings if f.severity == "blocker")
    assert blocker.code == "CURRENCY_MISMATCH"
    assert "invoiced in CAD" in blocker.message
    assert "is in USD" in blocker.message
    globex = await sync_env.qbo.read(Customer, qbo_seed.CUSTOMER_GLOBEX)
    assert globex.CurrencyRef is not None
    assert globex.CurrencyRef.value == "USD"


async def test_invoice_customer_created_in_the_plan_is_referred_to_by_placeholder(sync_env: SyncEnv) -> None:
    resolution = await customer_for_invoice(sync_env.ctx, paymo_seed.STARK, "CAD")

    assert not resolution.blocked
    assert resolution.customer_id is None
    assert resolution.customer_ref == f"@link:customer:{paymo_seed.STARK}"
    assert [(c.action, c.entity) for c in resolution.changes] == [("create", "customer")]


async def test_customer_lookup_pages_past_a_thousand_records(sync_env: SyncEnv) -> None:
    for index in range(1100):
        sync_env.qbo_emu.state.insert(
            "Customer",
            {
                "DisplayName": f"Filler Customer {index:04d}",
                "CompanyName": f"Filler Customer {index:04d}",
                "Active": True,
                "Job": False,
                "CurrencyRef": sync_env.qbo_emu.state.currency_ref("CAD"),
                "PrimaryEmailAddr": {"Address": f"filler{index}@filler.example"},
            },
        )
    late = sync_env.qbo_emu.state.insert(
        "Customer",
        {
            "DisplayName": "Stark Industries",
            "CompanyName": "Stark Industries",
            "Active": True,
            "Job": False,
            "CurrencyRef": sync_env.qbo_emu.state.currency_ref("CAD"),
            "PrimaryEmailAddr": {"Address": "tony@stark.example"},
        },
    )

    found = await plan_client_match(sync_env.ctx, paymo_seed.STARK, create_if_missing=True)

    assert found.match.decision == "matched"
    assert found.match.customer is not None
    assert found.match.customer.id == late["Id"]
    assert writes(found.plan) == [("link", "customer")]
