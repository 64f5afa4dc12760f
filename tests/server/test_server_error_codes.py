"""Every tool error starts with the project's stable code — the SDK's own argument validation included — and
names the argument and what it accepts, never echoing the value given."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult
from server_support import ServerEnv

from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.server.app import coded_error_text

SECRET_LOOKING = "sk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def text_of(result: Any) -> str:
    return " ".join(str(getattr(block, "text", "")) for block in result.content)


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("sync_invoice", {"paymo_invoice_id": "abc"}, "paymo_invoice_id: Input should be a valid integer"),
        (
            "sync_invoice",
            {"paymo_invoice_id": -5},
            "paymo_invoice_id: Input should be greater than or equal to 1",
        ),
        ("sync_invoice", {"paymo_invoice_ids": []}, "paymo_invoice_ids: List should have at least 1 item"),
        (
            "mark_paid",
            {"direction": "sideways"},
            "direction: Input should be 'both', 'to_paymo' or 'to_quickbooks'",
        ),
        (
            "reconciliation_report",
            {"date_from": "2026-13-01", "date_to": "2026-11-30"},
            "date_from: Input should be a valid date",
        ),
        (
            "find_client_match",
            {"paymo_client_id": SECRET_LOOKING},
            "paymo_client_id: Input should be a valid integer",
        ),
    ],
)
async def test_bad_arguments_are_input_errors_that_name_the_argument(
    server_env: ServerEnv, tool: str, arguments: dict[str, Any], says: str
) -> None:
    async with server_env.client() as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    text = text_of(result)
    assert text.startswith(f"INPUT: {tool} got arguments it does not accept — ")
    assert says in text
    assert "errors.pydantic.dev" not in text
    assert "input_value" not in text
    assert SECRET_LOOKING not in text


def test_an_unexpected_failure_is_internal_and_says_what_to_do() -> None:
    text = coded_error_text("Error executing tool aggregate_time")
    assert text.startswith("INTERNAL: aggregate_time failed unexpectedly")
    assert "sync_status" in text


def test_our_coded_errors_only_lose_the_sdk_prefix() -> None:
    assert coded_error_text("Error executing tool sync_invoice: BLOCKED: nothing was written.") == (
        "BLOCKED: nothing was written."
    )
    assert coded_error_text("APPROVAL: expired") == "APPROVAL: expired"


@pytest.mark.parametrize(
    "content",
    [{"approve": "maybe"}, {"approve": True, "note": ["a", "list"]}, None],
    ids=["not_a_boolean", "note_not_text", "no_content"],
)
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_malformed_approval_answer_is_an_approval_error_and_writes_nothing(
    server_env: ServerEnv, content: dict[str, Any] | None, mode: str
) -> None:
    async def answer(context: Any, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content=content)

    invoices_before = len(server_env.sandbox.qbo.state.tables["Invoice"])
    async with Client(server_env.server, mode=mode, elicitation_callback=answer) as client:
        result = await client.call_tool(
            "sync_invoice", {"paymo_invoice_id": seed.INVOICE_IDS["INV-2026-1035"]}
        )
    assert result.is_error
    text = text_of(result)
    assert text.startswith("APPROVAL: sync_invoice got an answer to its approval question that does not fit")
    assert "Resolver" not in text
    assert "paymo_qb_mcp" not in text
    assert len(server_env.sandbox.qbo.state.tables["Invoice"]) == invoices_before
    assert not [entry for entry in server_env.audit().tail(1000) if entry.get("event") == "write"]


async def test_a_tool_that_does_not_exist_is_input_listing_the_tools_without_repeating_the_name(
    server_env: ServerEnv,
) -> None:
    async with server_env.client() as client:
        result = await client.call_tool("x" * 10_000, {})
    assert result.is_error
    text = text_of(result)
    assert text.startswith("INPUT: there is no tool of that name; the tools are find_client_match, ")
    assert "x" * 100 not in text
