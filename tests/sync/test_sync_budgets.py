"""Budgets Paymo → QBO end to end: Estimates whose lines total the budget, POs to the vendor, once each."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sync_support import SyncEnv, fixed_now

from paymo_qb_mcp.config.policy import QboRef
from paymo_qb_mcp.domain.keys import marker
from paymo_qb_mcp.domain.plan import Plan
from paymo_qb_mcp.paymo.models import Project, Task
from paymo_qb_mcp.quickbooks.models import Customer, Estimate, Line, PurchaseOrder
from paymo_qb_mcp.sandbox.paymo import seed as paymo_seed
from paymo_qb_mcp.sandbox.quickbooks import seed as qbo_seed
from paymo_qb_mcp.sync.budgets import budget_lines
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.service import SyncService


async def push(service: SyncService, project_id: int, kind: str = "estimate") -> Plan:
    plan = await service.plan_budget(paymo_project_id=project_id, kind=kind)  # type: ignore[arg-type]
    assert not plan.blocked, plan.summary
    outcome = await service.apply(plan)
    assert outcome.findings == [], [finding.message for finding in outcome.findings]
    return plan


def sales(record: Estimate) -> list[Line]:
    return [line for line in record.Line or [] if line.DetailType == "SalesItemLineDetail"]


def line_total(lines: list[Line]) -> Decimal:
    return sum((line.Amount or Decimal(0) for line in lines), Decimal(0))


async def the_estimate(env: SyncEnv, project_id: int) -> Estimate:
    link = env.ledger.link("budget_estimate", project_id)
    assert link is not None
    return await env.qbo.read(Estimate, link.qbo_id)


def service_with(env: SyncEnv, **mappings: object) -> SyncService:
    changed = env.mappings.model_copy(update=mappings)
    return SyncService(
        SyncContext(paymo=env.paymo, qbo=env.qbo, ledger=env.ledger, mappings=changed, now=fixed_now)
    )


# --- estimates -------------------------------------------------------------------------------


async def test_a_time_and_materials_budget_becomes_an_estimate_whose_lines_total_the_budget(
    sync_env: SyncEnv,
) -> None:
    project = await sync_env.paymo.get_project(paymo_seed.ACME_WEBSITE)
    assert project.budget_hours == Decimal(120)
    assert project.price_per_hour == Decimal(150)

    await push(sync_env.service, paymo_seed.ACME_WEBSITE)

    estimate = await the_estimate(sync_env, paymo_seed.ACME_WEBSITE)
    lines = sales(estimate)
    assert line_total(lines) == project.budget_hours * project.price_per_hour == Decimal("18000.00")
    (line,) = lines
    assert line.SalesItemLineDetail is not None
    assert (line.SalesItemLineDetail.Qty, line.SalesItemLineDetail.UnitPrice) == (Decimal(120), Decimal(150))
    assert estimate.CustomerRef is not None
    assert estimate.CustomerRef.value == "1"  # "ACME Corp."
    assert estimate.TxnDate is not None
    assert estimate.ExpirationDate == estimate.TxnDate + dt.timedelta(days=30)
    assert estimate.TxnStatus == "Pending"
    assert marker("budget_estimate", paymo_seed.ACME_WEBSITE) in (estimate.PrivateNote or "")
    # GST + QST (the client's latest Paymo invoice) on top of the budget.
    assert estimate.TotalAmt == Decimal("20695.50")
    # Paymo is only read: the project's budget is as it was.
    assert (await sync_env.paymo.get_project(paymo_seed.ACME_WEBSITE)).budget_hours == Decimal(120)


async def test_task_budgets_split_the_estimate_and_the_rest_goes_on_a_project_line(sync_env: SyncEnv) -> None:
    sync_env.paymo_emu.state.update("tasks", paymo_seed.TASK_DESIGN, {"budget_hours": Decimal(40)})
    sync_env.paymo_emu.state.update(
        "tasks",
        paymo_seed.TASK_DEVELOPMENT,
        {"budget_hours": Decimal("60.5"), "price_per_hour": Decimal(160)},
    )

    await push(sync_env.service, paymo_seed.ACME_WEBSITE)

    lines = sales(await the_estimate(sync_env, paymo_seed.ACME_WEBSITE))
    shape = [
        (line.SalesItemLineDetail.Qty, line.SalesItemLineDetail.UnitPrice, line.Amount)  # type: ignore[union-attr]
        for line in lines
    ]
    # Development's own rate wins over the project's (hourly_billing_mode null: task before project).
    assert shape == [
        (Decimal(40), Decimal(150), Decimal("6000.00")),
        (Decimal("60.5"), Decimal(160), Decimal("9680.00")),
        (Decimal("19.5"), Decimal(150), Decimal("2925.00")),
    ]
    assert line_total(lines) == Decimal("18605.00")


async def test_a_flat_budget_is_split_by_the_tasks_estimated_prices(sync_env: SyncEnv) -> None:
    plan = await push(sync_env.service, paymo_seed.STARK_PROTOTYPE)

    estimate = await the_estimate(sync_env, paymo_seed.STARK_PROTOTYPE)
    assert [line.Amount for line in sales(estimate)] == [
        Decimal("9000.00"),
        Decimal("12000.00"),
        Decimal("4000.00"),
    ]
    assert line_total(sales(estimate)) == Decimal("25000.00")  # the project's fixed price
    # Stark Industries had no QBO customer: the plan created it first, and the estimate is addressed to it.
    assert [change.entity for change in plan.writes] == ["customer", "estimate"]
    assert estimate.CustomerRef is not None
    customer = await sync_env.qbo.read(Customer, estimate.CustomerRef.value)
    assert customer.DisplayName == "Stark Industries"
    # The same total as the accepted Paymo estimate for this project.
    assert estimate.TotalAmt == paymo_seed.ESTIMATE_TOTALS["global"]


async def test_a_foreign_currency_budget_carries_the_currency_and_an_exchange_rate(sync_env: SyncEnv) -> None:
    await push(sync_env.service, paymo_seed.GLOBEX_PIPELINE)

    estimate = await the_estimate(sync_env, paymo_seed.GLOBEX_PIPELINE)
    assert estimate.CurrencyRef is not None
    assert estimate.CurrencyRef.value == "USD"
    assert estimate.ExchangeRate == Decimal("1.3900")
    assert line_total(sales(estimate)) == estimate.TotalAmt == Decimal("28000.00")  # 200 h × 140, zero-rated


async def test_rerunning_creates_nothing_new_and_a_changed_budget_updates_the_same_estimate(
    sync_env: SyncEnv,
) -> None:
    await push(sync_env.service, paymo_seed.ACME_WEBSITE)
    first = await the_estimate(sync_env, paymo_seed.ACME_WEBSITE)

    again = await sync_env.service.plan_budget(paymo_project_id=paymo_seed.ACME_WEBSITE)
    assert again.writes == ()
    assert [change.action for change in again.changes] == ["skip"]

    sync_env.paymo_emu.state.update("projects", paymo_seed.ACME_WEBSITE, {"budget_hours": Decimal(100)})
    update = await push(sync_env.service, paymo_seed.ACME_WEBSITE)

    assert [change.action for change in update.writes] == ["update"]
    second = await the_estimate(sync_env, paymo_seed.ACME_WEBSITE)
    assert second.Id == first.Id
    assert line_total(sales(second)) == Decimal("15000.00")
    assert len(await sync_env.qbo.query_all(Estimate)) == 1
    assert (await sync_env.service.plan_budget(paymo_project_id=paymo_seed.ACME_WEBSITE)).writes == ()


async def test_an_accepted_estimate_is_not_rewritten(sync_env: SyncEnv) -> None:
    await push(sync_env.service, paymo_seed.ACME_WEBSITE)
    estimate = await the_estimate(sync_env, paymo_seed.ACME_WEBSITE)
    assert estimate.Id is not None
    sync_env.qbo_emu.state.save(
        "Estimate", {**sync_env.qbo_emu.state.tables["Estimate"][estimate.Id], "TxnStatus": "Accepted"}
    )
    sync_env.paymo_emu.state.update("projects", paymo_seed.ACME_WEBSITE, {"budget_hours": Decimal(100)})

    plan = await sync_env.service.plan_budget(paymo_project_id=paymo_seed.ACME_WEBSITE)

    assert plan.writes == ()
    assert [finding.code for finding in plan.findings] == ["ANSWERED"]


async def test_a_project_without_budget_is_a_finding_and_no_change(sync_env: SyncEnv) -> None:
    plan = await sync_env.service.plan_budget(paymo_project_id=paymo_seed.SMITH_RETAINER)

    assert plan.changes == ()
    (finding,) = plan.findings
    assert finding.code == "NO_BUDGET"
    assert "Smith & Sons Retainer" in finding.message


# --- purchase orders -------------------------------------------------------------------------


async def test_a_budget_becomes_a_purchase_order_to_the_mapped_vendor(sync_env: SyncEnv) -> None:
    await push(sync_env.service, paymo_seed.STARK_PROTOTYPE, "purchase_order")

    link = sync_env.ledger.link("budget_po", paymo_seed.STARK_PROTOTYPE)
    assert link is not None
    order = await sync_env.qbo.read(PurchaseOrder, link.qbo_id)
    assert order.VendorRef is not None
    assert order.VendorRef.value == qbo_seed.VENDOR_PIXEL_FREELANCE
    assert order.APAccountRef is not None
    assert order.APAccountRef.value == qbo_seed.ACCOUNT_PAYABLE
    assert order.POStatus == "Open"
    assert [line.Amount for line in order.Line or []] == [
        Decimal("9000.00"),
        Decimal("12000.00"),
        Decimal("4000.00"),
    ]
    assert order.TotalAmt == Decimal("25000.00")
    assert marker("budget_po", paymo_seed.STARK_PROTOTYPE) in (order.PrivateNote or "")

    again = await sync_env.service.plan_budget(
        paymo_project_id=paymo_seed.STARK_PROTOTYPE, kind="purchase_order"
    )
    assert again.writes == ()
    assert len(await sync_env.qbo.query_all(PurchaseOrder)) == 1


async def test_the_purchase_order_vendor_is_matched_by_name_like_customers(sync_env: SyncEnv) -> None:
    service = service_with(sync_env, purchase_order_vendor=QboRef(name="pixel freelance co"))

    plan = await push(service, paymo_seed.STARK_PROTOTYPE, "purchase_order")

    (order_change,) = plan.writes
    assert order_change.payload is not None
    assert order_change.payload["VendorRef"] == {"value": qbo_seed.VENDOR_PIXEL_FREELANCE}
    assert "VENDOR_MATCHED" in [finding.code for finding in plan.findings]


async def test_a_company_without_purchase_orders_is_blocked(sync_env: SyncEnv) -> None:
    info = sync_env.qbo_emu.state.tables["CompanyInfo"]["1"]
    names = [
        {**pair, "Value": "QuickBooks Online Essentials"} if pair["Name"] == "OfferingSku" else pair
        for pair in info["NameValue"]
    ]
    sync_env.qbo_emu.state.save("CompanyInfo", {**info, "NameValue": names})

    plan = await sync_env.service.plan_budget(
        paymo_project_id=paymo_seed.STARK_PROTOTYPE, kind="purchase_order"
    )

    (blocker,) = [finding for finding in plan.findings if finding.severity == "blocker"]
    assert blocker.code == "FEATURE_UNAVAILABLE"
    assert "5020" in blocker.message
    assert "Essentials" in blocker.message
    assert plan.writes == ()


async def test_a_purchase_order_in_another_currency_than_the_vendor_is_blocked(sync_env: SyncEnv) -> None:
    plan = await sync_env.service.plan_budget(
        paymo_project_id=paymo_seed.GLOBEX_PIPELINE, kind="purchase_order"
    )

    (blocker,) = [finding for finding in plan.findings if finding.severity == "blocker"]
    assert blocker.code == "VENDOR_CURRENCY"
    assert plan.writes == ()


# --- the budget rule -------------------------------------------------------------------------


def test_task_prices_above_a_flat_price_give_one_line_of_the_price() -> None:
    project = Project(id=1, name="Launch", billable=True, flat_billing=True, price=Decimal(1000))
    tasks = [
        Task(id=11, name="Design", billable=True, estimated_price=Decimal(700)),
        Task(id=12, name="Build", billable=True, estimated_price=Decimal(600)),
    ]

    budget = budget_lines(project, tasks, company_rate=None, currency="CAD")

    assert budget is not None
    assert [line.amount for line in budget.lines] == [Decimal("1000.00")]
    assert budget.total == Decimal("1000.00")
    assert len(budget.notes) == 1


def test_flat_task_prices_below_the_price_leave_a_rest_line() -> None:
    project = Project(id=1, name="Launch", billable=True, flat_billing=True, price=Decimal(1000))
    tasks = [Task(id=11, name="Design", billable=True, estimated_price=Decimal(300))]

    budget = budget_lines(project, tasks, company_rate=None, currency="CAD")

    assert budget is not None
    assert [(line.task_id, line.amount) for line in budget.lines] == [
        (11, Decimal("300.00")),
        (None, Decimal("700.00")),
    ]


def test_non_billable_budgeted_hours_are_not_estimated() -> None:
    project = Project(
        id=1, name="Site", billable=True, budget_hours=Decimal(100), price_per_hour=Decimal(100)
    )
    tasks = [Task(id=11, name="QA", billable=False, budget_hours=Decimal(10))]

    budget = budget_lines(project, tasks, company_rate=None, currency="CAD")

    assert budget is not None
    assert [(line.hours, line.amount) for line in budget.lines] == [(Decimal(90), Decimal("9000.00"))]
    assert budget.notes == ("QA: 10 h budgeted on a non-billable task, not estimated",)


def test_no_budget_and_missing_rates() -> None:
    bare = Project(id=1, name="Retainer", billable=True, price_per_hour=Decimal(120))
    assert budget_lines(bare, [], company_rate=None, currency="CAD") is None
    unpriced = Project(id=2, name="Open", billable=True, budget_hours=Decimal(10))
    budget = budget_lines(unpriced, [], company_rate=None, currency="CAD")
    assert budget is not None
    assert budget.lines == ()
    assert len(budget.problems) == 1
    company_priced = budget_lines(unpriced, [], company_rate=Decimal(80), currency="CAD")
    assert company_priced is not None
    assert company_priced.total == Decimal("800.00")
