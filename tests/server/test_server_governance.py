"""Policy decisions at the MCP layer: dry runs, denials naming the rule, blocked plans, the write budget,
ambiguous matches answered with their candidates, and agent-facing errors without tracebacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from server_support import SHIPPED_POLICY, Human, audit_events, qbo_client

from paymo_qb_mcp.quickbooks.models import Invoice
from paymo_qb_mcp.quickbooks.query import eq
from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.server.app import build_server

INV_1035 = seed.INVOICE_IDS["INV-2026-1035"]
INV_1039 = seed.INVOICE_IDS["INV-2026-1039"]
INV_1042 = seed.INVOICE_IDS["INV-2026-1042"]
INV_1037 = seed.INVOICE_IDS["INV-2026-1037"]


def policy_with(
    rules: str, *, default: str = "allow", writes_per_minute: int = 30, approvals: str = ""
) -> str:
    """The shipped policy's mappings with other rules (the mappings fit the sandbox company)."""
    shipped = SHIPPED_POLICY.read_text(encoding="utf-8")
    mappings = shipped[shipped.index("\nmappings:") :]
    return (
        f"version: 1\ndefault: {default}\nrules:\n{rules}\n"
        f"limits:\n  writes_per_minute: {writes_per_minute}\n"
        f"approvals:\n  expire_after: 15m\n{approvals}{mappings}"
    )


async def count_invoices(env: Any, doc_number: str) -> int:
    async with qbo_client(env) as qbo:
        return len(await qbo.query_all(Invoice, eq("DocNumber", doc_number)))


async def test_a_dry_run_plans_and_writes_nothing(server_env: Any) -> None:
    async with server_env.client(human=Human("accept")) as client:
        result = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1035, "dry_run": True})
    out = result.structured_content
    assert out["status"] == "planned"
    actions = {(change["entity"], change["action"], change["target"]) for change in out["changes"]}
    assert ("invoice", "create", "quickbooks") in actions
    assert ("customer", "link", "ledger") in actions  # Acme is matched and linked on the way
    assert out["paymo_total"] == "5089.52"
    assert out["qbo_total"] == "5089.52"
    assert len(out["plan_hash"]) == 64
    assert await count_invoices(server_env, "INV-2026-1035") == 0


async def test_a_deny_rule_refuses_and_names_itself(env_factory: Any) -> None:
    env = env_factory(
        policy_with(
            "  - name: no invoices today\n    tools: [sync_invoice]\n    when: {operation: create}\n"
            "    effect: deny\n"
        )
    )
    async with env.client(human=Human("accept")) as client:
        result = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1035})
    assert result.is_error
    text = result.content[0].text
    assert "POLICY_DENIED" in text
    assert "no invoices today" in text
    assert "Traceback" not in text
    assert await count_invoices(env, "INV-2026-1035") == 0
    assert audit_events(env)[-1]["outcome"] == "denied"


async def test_a_blocked_plan_is_refused_with_the_reason(server_env: Any) -> None:
    async with server_env.client(human=Human("accept")) as client:
        result = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1042})
    assert result.is_error
    text = result.content[0].text
    assert "BLOCKED" in text
    assert "CLOSED_PERIOD" in text
    assert await count_invoices(server_env, "INV-2026-1042") == 0
    assert any(e.get("outcome") == "blocked" for e in audit_events(server_env))


async def test_an_ambiguous_client_returns_its_candidates(server_env: Any) -> None:
    async with server_env.client() as client:
        result = await client.call_tool("find_client_match", {"paymo_client_id": seed.UMBRELLA})
    assert not result.is_error, result.content
    out = result.structured_content
    assert out["decision"] == "ambiguous"
    assert out["customer"] is None
    names = {candidate["display_name"] for candidate in out["candidates"][:2]}
    assert names == {"Umbrella Health (East)", "Umbrella Health (West)"}
    assert all(0 <= c["score"] <= 1 and c["reasons"] for c in out["candidates"])

    # The human picks one; the agent passes that choice and the link is stored.
    west = next(c["id"] for c in out["candidates"] if c["display_name"] == "Umbrella Health (West)")
    async with server_env.client() as client:
        chosen = await client.call_tool(
            "find_client_match", {"paymo_client_id": seed.UMBRELLA, "qbo_customer_id": west}
        )
        status = await client.call_tool("sync_status", {})
    assert chosen.structured_content["decision"] == "matched"
    assert chosen.structured_content["customer"]["id"] == west
    assert chosen.structured_content["status"] == "applied"
    assert {"kind": "customer", "links": 1} in status.structured_content["links"]


async def test_the_write_budget_counts_logical_writes(env_factory: Any) -> None:
    env = env_factory(
        policy_with(
            "  - name: all writes free\n    when: {operation: write}\n    effect: allow\n",
            writes_per_minute=1,
        )
    )
    async with env.client() as client:
        first = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1039})
        assert first.structured_content["status"] == "applied"
        second = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1035})
    assert second.is_error
    assert "WRITE_LIMIT" in second.content[0].text
    assert "retry after" in second.content[0].text
    assert await count_invoices(env, "INV-2026-1035") == 0


ALL_WRITES_FREE = "  - name: all writes free\n    when: {operation: write}\n    effect: allow\n"


async def test_the_write_budget_holds_across_servers_on_one_data_directory(env_factory: Any) -> None:
    # Two servers (each with its own runtime) on one data directory and the same books.
    env = env_factory(policy_with(ALL_WRITES_FREE, writes_per_minute=1))
    other_server = build_server(env.factory, policy_path=env.data_dir.parent / "policies.yaml")
    async with env.client() as first, Client(other_server) as second:
        applied = await first.call_tool("sync_invoice", {"paymo_invoice_id": INV_1039})
        refused = await second.call_tool("sync_invoice", {"paymo_invoice_id": INV_1035})
    assert applied.structured_content["status"] == "applied"
    assert refused.is_error
    assert refused.content[0].text.startswith("WRITE_LIMIT:")
    assert await count_invoices(env, "INV-2026-1035") == 0


async def test_the_write_budget_holds_across_a_restart(env_factory: Any) -> None:
    env = env_factory(policy_with(ALL_WRITES_FREE, writes_per_minute=1))
    async with env.client() as client:
        applied = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1039})
    assert applied.structured_content["status"] == "applied"
    async with env.client() as client:  # a new session opens a new runtime: a restarted server
        refused = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1035})
    assert refused.is_error
    assert "WRITE_LIMIT" in refused.content[0].text
    assert await count_invoices(env, "INV-2026-1035") == 0


async def test_waiting_approvals_per_tool_are_capped_by_the_policy(env_factory: Any) -> None:
    env = env_factory(policy_with("  []", default="confirm", approvals="  max_pending_per_tool: 2\n"))
    async with env.client() as client:
        first = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1035})
        second = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1039})
        third = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1037})
        # The same plan again is not a new approval, so the cap does not refuse it.
        first_again = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1035})
    assert first.structured_content["status"] == second.structured_content["status"] == "pending_approval"
    assert first_again.structured_content["approval_id"] == first.structured_content["approval_id"]
    assert third.is_error
    text = third.content[0].text
    assert text.startswith("APPROVAL:")
    assert "sync_invoice already has 2 approvals waiting" in text
    assert "max_pending_per_tool" in text
    assert f"PAYMO_QB_DATA_DIR={env.data_dir} paymo-qb-mcp pending" in text
    with env.approvals() as store:
        assert len(store.list_pending()) == 2
    [refusal] = [e for e in audit_events(env) if e.get("outcome") == "approval_refused"]
    assert "max_pending_per_tool" in refusal["message"]


async def test_bad_arguments_get_a_clear_error(server_env: Any) -> None:
    async with server_env.client() as client:
        missing = await client.call_tool("mark_paid", {"direction": "both"})
        backwards = await client.call_tool(
            "push_expenses", {"date_from": "2026-11-30", "date_to": "2026-11-01"}
        )
        wrong_type = await client.call_tool("sync_invoice", {"paymo_invoice_id": "abc"})
    assert missing.is_error
    assert "INPUT" in missing.content[0].text
    assert "paymo_invoice_id" in missing.content[0].text
    assert backwards.is_error
    assert "after date_to" in backwards.content[0].text
    assert wrong_type.is_error


def test_shipped_policy_path_exists() -> None:
    assert Path(SHIPPED_POLICY).is_file()


async def test_long_runs_report_progress_and_log_to_the_client(env_factory: Any) -> None:
    env = env_factory(
        policy_with("  - name: all writes free\n    when: {operation: write}\n    effect: allow\n")
    )
    progress: list[tuple[float, float | None, str | None]] = []
    logs: list[Any] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def on_log(params: Any) -> None:
        logs.append(params.data)

    async with Client(env.server, mode="legacy", logging_callback=on_log) as client:
        result = await client.call_tool(
            "push_expenses",
            {"date_from": "2026-10-01", "date_to": "2026-11-30"},
            progress_callback=on_progress,
        )
    assert result.structured_content["status"] == "applied", result.content
    results = result.structured_content["results"]
    assert len([r for r in results if r["action"] == "create"]) == 5  # the five seeded expenses
    writes = len([r for r in results if r["action"] != "skip"])  # plus the customer links on the way
    assert progress[0][0] == 0
    assert progress[-1][:2] == (writes, writes)
    assert any("push_expenses: applied" in str(entry) for entry in logs)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tool_errors_start_with_their_stable_code(server_env: Any, mode: str) -> None:
    async with server_env.client(mode=mode, human=Human("accept")) as client:
        blocked = await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1042})
        bad_input = await client.call_tool("mark_paid", {})
    assert blocked.content[0].text.startswith("BLOCKED: ")
    assert bad_input.content[0].text.startswith("INPUT: ")


def test_the_approve_command_names_a_non_default_data_dir(tmp_path: Path) -> None:
    from paymo_qb_mcp.config.settings import default_data_dir
    from paymo_qb_mcp.server.governance import approve_command

    assert approve_command("apr_ABC123", default_data_dir()) == "paymo-qb-mcp approve apr_ABC123"
    odd = tmp_path / "my data"
    assert approve_command("apr_ABC123", odd) == f"PAYMO_QB_DATA_DIR='{odd}' paymo-qb-mcp approve apr_ABC123"
