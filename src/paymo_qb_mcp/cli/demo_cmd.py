"""The `demo` command: a scripted month-end reconciliation through a real MCP client session."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, TextIO

import anyio

DEMO_PERIOD = (dt.date(2025, 12, 1), dt.date(2026, 11, 30))


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a scripted reconciliation on the sandbox through a real MCP client session",
        description="Runs the MCP server on in-process emulators of Paymo and QuickBooks seeded with a "
        "demo agency, and drives it through a real MCP client the way an agent would: match clients, "
        "sync invoices (one needs a human), record payments, push expenses and time, report.",
    )
    parser.add_argument("--tax-model", choices=["global", "us"], default="global")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the demo's approvals and audit log go (default: a fresh temporary directory)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.data_dir is not None:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        return anyio.run(_demo, args.data_dir, args.tax_model, sys.stdout)
    with tempfile.TemporaryDirectory(prefix="paymo-qb-demo-") as tmp:
        return anyio.run(_demo, Path(tmp), args.tax_model, sys.stdout)


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def step(self, text: str) -> None:
        print(f"\n== {text}", file=self.out, flush=True)

    def line(self, text: str, indent: int = 3) -> None:
        wrapped = textwrap.fill(
            text,
            width=100,
            initial_indent=" " * indent,
            subsequent_indent=" " * (indent + 2),
            break_long_words=False,  # paths and commands stay whole, so they can be copied
            break_on_hyphens=False,
        )
        print(wrapped, file=self.out, flush=True)


async def _demo(data_dir: Path, tax_model: str, out: TextIO) -> int:
    from mcp import Client
    from mcp.types import ElicitRequestParams, ElicitResult

    from paymo_qb_mcp.cli.connect import sandbox_connection
    from paymo_qb_mcp.config.policy import load_policy
    from paymo_qb_mcp.config.settings import shipped_policy_path
    from paymo_qb_mcp.sandbox.paymo import seed
    from paymo_qb_mcp.server.app import build_server
    from paymo_qb_mcp.server.runtime import runtime_opener
    from paymo_qb_mcp.store.approvals import ApprovalStore
    from paymo_qb_mcp.store.audit import verify

    say = _Printer(out)
    shipped = load_policy(shipped_policy_path())
    # The demo lets routine writes through and keeps the shipped rules that matter: closed books are
    # denied, new customers and invoices of 5 000 or more need a human.
    policy = shipped.model_copy(update={"default": "allow"})
    connection, sandbox = sandbox_connection(seed="demo", tax_model=tax_model)  # type: ignore[arg-type]

    factory = runtime_opener(connection, policy=policy, data_dir=data_dir)

    server = build_server(factory, policy_path=shipped_policy_path(), log_level="WARNING")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asked: list[str] = []

    async def human(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        say.line("HUMAN is asked (MCP elicitation):", indent=6)
        for text in params.message.splitlines():
            say.line(text, indent=8)
        say.line("HUMAN answers: approve", indent=6)
        return ElicitResult(action="accept", content={"approve": True, "note": "demo"})

    async def call(client: Any, tool: str, arguments: dict[str, Any]) -> dict[str, Any] | None:
        result = await client.call_tool(tool, arguments)
        if result.is_error:
            text = " ".join(getattr(block, "text", "") for block in result.content)
            say.line(f"{tool}: refused — {text}")
            return None
        structured: dict[str, Any] = result.structured_content or {}
        return structured

    date_from, date_to = DEMO_PERIOD
    period = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}
    say.line(f"Sandbox: Northwind Pixel Studio ({tax_model} tax model). Data: {data_dir}", indent=0)
    async with Client(server, elicitation_callback=human) as client:
        say.step("1. What differs before we start (reconciliation_report)")
        report = await call(client, "reconciliation_report", period)
        if report is not None:
            say.line(report.get("summary") or "")

        say.step("2. Match Paymo clients to QuickBooks customers (find_client_match)")
        for name, client_id in seed.CLIENT_IDS.items():
            match = await call(client, "find_client_match", {"paymo_client_id": client_id})
            if match is None:
                continue
            best = (match.get("candidates") or [{}])[0]
            chosen = match.get("customer") or {}
            detail = f"→ {chosen.get('display_name')}" if chosen else ""
            reason = (
                f" (best {best.get('score', 0):.2f}: {'; '.join(best.get('reasons', [])[:2])})"
                if best
                else ""
            )
            say.line(f"{name!r}: {match['decision']} {detail}{reason} [{match['status']}]")

        say.step("3. Sync invoices to QuickBooks (sync_invoice) — the policy decides what needs a human")
        for number, invoice_id in seed.INVOICE_IDS.items():
            result = await call(client, "sync_invoice", {"paymo_invoice_id": invoice_id})
            if result is None:
                continue
            qbo_id = result.get("qbo_invoice_id")
            where = f"QBO invoice {qbo_id}" if qbo_id else "not in QuickBooks"
            say.line(
                f"{number}: {result['status']}; Paymo {result.get('paymo_total')}, QuickBooks "
                f"{result.get('qbo_total')} ({where})"
            )

        say.step("4. Record payments both ways (mark_paid)")
        paid = await call(client, "mark_paid", {"since": date_from.isoformat(), "direction": "both"})
        if paid is not None:
            say.line(paid["summary"])

        say.step("5. Push expenses and billable time (push_expenses, aggregate_time)")
        for tool, arguments in (("push_expenses", period), ("aggregate_time", period)):
            pushed = await call(client, tool, arguments)
            if pushed is None:
                continue
            say.line(f"{tool}: {pushed['status']} — {pushed['summary']}")
            left_out = [r for r in pushed.get("results") or [] if r.get("status") in ("blocked", "denied")]
            for entry in left_out[:3]:
                say.line(f"left out: {entry.get('reason')}", indent=6)
            if tool == "aggregate_time" and any("NO_WORKER" in (r.get("reason") or "") for r in left_out):
                # One person's time has no QuickBooks employee to go to: it was left out, the rest went
                # ahead. A human fixes that in QuickBooks, then the same call pushes only what is left.
                say.line(
                    "HUMAN adds Chloé Gagnon as an employee in QuickBooks, then the agent retries.", indent=6
                )
                await _add_employee(sandbox, "Chloé", "Gagnon", "chloe@northwindpixel.example")
                pushed = await call(client, tool, arguments)
                if pushed is not None:
                    say.line(f"{tool}: {pushed['status']} — {pushed['summary']}")

        say.step("6. Budget → QuickBooks Estimate (create_po_from_budget)")
        budget = await call(client, "create_po_from_budget", {"paymo_project_id": 20004, "kind": "estimate"})
        if budget is not None:
            say.line(f"{budget['status']} — {budget['summary']}")

    say.step("7. A client without elicitation: the approval goes out of band")
    async with Client(server) as plain:
        again = await call(
            plain, "find_client_match", {"paymo_client_id": seed.SOYLENT, "create_if_missing": True}
        )
        if again is not None and again["status"] == "pending_approval":
            approval_id = again["approval_id"]
            say.line(f"pending_approval: the human runs `{again['approve_command']}`")
            with ApprovalStore(data_dir) as approvals:
                approvals.approve(approval_id, "demo human")
            done = await call(
                plain,
                "find_client_match",
                {"paymo_client_id": seed.SOYLENT, "create_if_missing": True, "approval_id": approval_id},
            )
            if done is not None:
                say.line(f"re-called with approval_id: {done['status']} — {done['summary']}")
        elif again is not None:
            say.line(f"{again['status']}: {again['summary']}")
        final = await call(plain, "reconciliation_report", period)

    say.step("8. Final report")
    if final is not None:
        say.line(final.get("summary") or "")
    checked = verify(data_dir / "audit.jsonl")
    chain = "intact" if checked.ok else f"BROKEN at line {checked.first_bad_line}: {checked.reason}"
    say.line(f"Audit log: {checked.entries} entries, hash chain {chain}")
    say.line(f"The human was asked {len(asked)} time(s) through elicitation.")
    return 0 if checked.ok else 1


async def _add_employee(sandbox: Any, given: str, family: str, email: str) -> None:
    """What the human does in the QuickBooks UI: add an employee (here, straight through the API)."""
    from paymo_qb_mcp.domain.keys import request_id
    from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
    from paymo_qb_mcp.quickbooks.client import QboClient
    from paymo_qb_mcp.quickbooks.models import Employee
    from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider

    async with QboClient(
        base_url="https://sandbox-quickbooks.api.intuit.com",
        realm_id=sandbox.qbo.realm_id,
        token_provider=StaticTokenProvider(sandbox.qbo.access_token),
        transport=sandbox.qbo_transport(),
        limiter=UnlimitedLimiter(),
    ) as qbo:
        employee = Employee.model_validate(
            {
                "GivenName": given,
                "FamilyName": family,
                "DisplayName": f"{given} {family}",
                "PrimaryEmailAddr": {"Address": email},
            }
        )
        await qbo.create(employee, request_id=request_id("demo_employee", 3, email))
