"""Every argument of every tool, prompt and resource template has bounds (ids, lengths, list sizes, the dates
both services take) declared where clients see them; what is out of bounds is refused with INPUT naming the
argument and the accepted range, before anything is planned or audited, and never repeated."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError
from server_support import ServerEnv, audit_events

from paymo_qb_mcp.server.arguments import (
    APPROVAL_ID_MAX_LENGTH,
    APPROVAL_ID_PATTERN,
    accepted,
)
from paymo_qb_mcp.store.approvals import ApprovalStore, normalize_approval_id

LONG = "Z" * 5000
DATE_RANGE = "a date (YYYY-MM-DD) from 1900-01-01 to 2100-12-31"
PAYMO_ID_RANGE = "an integer from 1 to 2147483647"


def text_of(result: Any) -> str:
    return " ".join(str(getattr(block, "text", "")) for block in result.content)


def _unbounded(path: str, schema: Mapping[str, Any]) -> list[str]:
    """The places in an argument's schema where a value of any size would be accepted."""
    options = schema.get("anyOf")
    if isinstance(options, list):
        return [found for option in options for found in _unbounded(path, option)]
    kind = schema.get("type")
    if "enum" in schema or kind in ("boolean", "null"):
        return []
    if kind == "integer":
        return [] if "minimum" in schema and "maximum" in schema else [path]
    if kind == "string" and schema.get("format") == "date":
        return [] if "formatMinimum" in schema and "formatMaximum" in schema else [path]
    if kind == "string":
        return [] if "maxLength" in schema else [path]
    if kind == "array":
        return ([] if "maxItems" in schema else [path]) + _unbounded(f"{path}[]", schema["items"])
    return [path]


async def test_every_argument_of_every_tool_declares_its_bounds(server_env: ServerEnv) -> None:
    async with server_env.client() as client:
        tools = (await client.list_tools()).tools
    unbounded = [
        found
        for tool in tools
        for name, schema in tool.input_schema.get("properties", {}).items()
        for found in _unbounded(f"{tool.name}.{name}", schema)
    ]
    assert len(tools) == 8
    assert unbounded == []


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        (
            "reconciliation_report",
            {"date_from": "0001-01-01", "date_to": "2026-11-30"},
            f"date_from: Input should be greater than or equal to 1900-01-01 (accepts {DATE_RANGE})",
        ),
        (
            "aggregate_time",
            {"date_from": "2026-11-01", "date_to": "9999-12-31"},
            f"date_to: Input should be less than or equal to 2100-12-31 (accepts {DATE_RANGE})",
        ),
        ("mark_paid", {"since": "0001-01-01"}, "since: Input should be greater than or equal to 1900-01-01"),
        (
            "sync_invoice",
            {"paymo_invoice_id": 2**31},
            f"paymo_invoice_id: Input should be less than or equal to 2147483647 (accepts {PAYMO_ID_RANGE}, "
            "or null)",
        ),
        (
            "mark_paid",
            {"paymo_invoice_id": 0},
            "paymo_invoice_id: Input should be greater than or equal to 1",
        ),
        (
            "sync_invoice",
            {"paymo_invoice_ids": list(range(1, 5002))},
            "paymo_invoice_ids: List should have at most 5000 items after validation, not 5001 (accepts a "
            f"list of 1 to 5000 items, each {PAYMO_ID_RANGE}, or null)",
        ),
        (
            "push_expenses",
            {"expense_ids": [1, -3]},
            "expense_ids.1: Input should be greater than or equal to 1",
        ),
        ("push_expenses", {"expense_ids": list(range(1, 5002))}, "a list of 1 to 5000 items"),
        (
            "find_client_match",
            {"paymo_client_id": 10008, "qbo_customer_id": LONG},
            "qbo_customer_id: String should have at most 20 characters (accepts a QuickBooks id "
            "(digits only) of at most 20 characters, or null)",
        ),
        (
            "find_client_match",
            {"paymo_client_id": 10008, "qbo_customer_id": "' OR 1=1 --"},
            "qbo_customer_id: String is not in the accepted form (accepts a QuickBooks id (digits only)",
        ),
        (
            "sync_invoice",
            {"paymo_invoice_id": 50001, "approval_id": LONG},
            "approval_id: String should have at most 32 characters (accepts an approval id such as "
            "apr_7K2M9Q of at most 32 characters, or null)",
        ),
        (
            "create_po_from_budget",
            {"paymo_project_id": 1, "approval_id": "apr_<script>"},
            "approval_id: String is not in the accepted form (accepts an approval id such as apr_7K2M9Q",
        ),
        (
            "aggregate_time",
            {"date_from": "2026-11-01", "date_to": "2026-11-30", "group_by": ["client"] * 5},
            "group_by: List should have at most 4 items after validation, not 5 (accepts a list of at most 4 "
            "items, each one of 'client', 'project', 'task', 'user')",
        ),
        (
            "sync_invoice",
            {"date_from": "2026-11-01", "date_to": "2026-11-30", "statuses": ["paid"] * 6},
            "statuses: List should have at most 5 items",
        ),
        (
            "reconciliation_report",
            {"date_to": "2026-11-30"},
            f"date_from: Field required (accepts {DATE_RANGE})",
        ),
    ],
)
async def test_out_of_bounds_is_input_naming_the_argument_and_its_range(
    server_env: ServerEnv, tool: str, arguments: dict[str, Any], says: str
) -> None:
    async with server_env.client() as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    text = text_of(result)
    assert text.startswith(f"INPUT: {tool} got arguments it does not accept — "), text
    assert says in text
    assert LONG not in text
    assert "OR 1=1" not in text
    assert "<script>" not in text
    assert "String should match pattern" not in text  # the regular expression is said in words
    # Refused before the runtime opened: nothing was read, planned or audited.
    assert audit_events(server_env) == []


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        (
            "sync_invoice",
            {"paymo_invoice_id": 50001, "date_from": "2026-11-01", "date_to": "2026-11-30"},
            "INPUT: give exactly one of paymo_invoice_id (one invoice), paymo_invoice_ids",
        ),
        (
            "sync_invoice",
            {"date_from": "2026-11-30", "date_to": "2026-11-01"},
            "INPUT: date_from 2026-11-30 is after date_to 2026-11-01",
        ),
        (
            "push_expenses",
            {"date_from": "2026-11-30", "date_to": "2026-11-01"},
            "INPUT: date_from 2026-11-30 is after date_to 2026-11-01",
        ),
        (
            "aggregate_time",
            {"date_from": "2026-11-30", "date_to": "2026-11-01"},
            "INPUT: date_from 2026-11-30 is after date_to 2026-11-01",
        ),
        (
            "reconciliation_report",
            {"date_from": "2026-11-30", "date_to": "2026-11-01"},
            "INPUT: date_from 2026-11-30 is after date_to 2026-11-01",
        ),
        (
            "push_expenses",
            {"date_from": "2026-11-01"},
            "INPUT: give expense_ids, or both date_from and date_to",
        ),
        ("mark_paid", {}, "INPUT: give paymo_invoice_id (one invoice) or since"),
    ],
)
async def test_arguments_that_do_not_go_together_are_specific_input_errors(
    server_env: ServerEnv, tool: str, arguments: dict[str, Any], says: str
) -> None:
    async with server_env.client() as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert text_of(result).startswith(says)


async def test_the_widest_dates_accepted_are_read_not_an_internal_error(server_env: ServerEnv) -> None:
    async with server_env.client() as client:
        report = await client.call_tool(
            "reconciliation_report", {"date_from": "1900-01-01", "date_to": "2100-12-31"}
        )
        time = await client.call_tool(
            "aggregate_time", {"date_from": "1900-01-01", "date_to": "2100-12-31", "dry_run": True}
        )
    assert not report.is_error, text_of(report)
    assert not time.is_error, text_of(time)


def test_every_approval_id_the_store_makes_fits_the_bound_in_every_form_a_human_types(tmp_path: Path) -> None:
    store = ApprovalStore(tmp_path)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    for number in range(40):
        approval = store.create("sync_invoice", {}, f"{number:064x}", "a plan", {}, expires)
        for typed in (approval.id, approval.id.lower(), approval.id[len("apr_") :], f"  {approval.id} "):
            assert re.fullmatch(APPROVAL_ID_PATTERN, typed), typed
            assert len(typed) <= APPROVAL_ID_MAX_LENGTH
            assert normalize_approval_id(typed) == approval.id


def test_what_an_argument_accepts_in_words() -> None:
    assert accepted({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 9}, {"type": "null"}]}) == (
        "an integer from 1 to 9, or null"
    )
    assert accepted({"type": "string", "format": "date"}) == "a date (YYYY-MM-DD)"
    assert accepted({"type": "string", "maxLength": 5}) == "a string of at most 5 characters"
    assert accepted({"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 1}) == (
        "a list of at least 1 item, each one of 'a', 'b'"
    )
    assert accepted({"type": "object"}) == "what the tool's input schema says"


async def test_prompt_arguments_are_bounded_and_refused_as_input(server_env: ServerEnv) -> None:
    async with server_env.client() as client:
        with pytest.raises(MCPError) as too_long:
            await client.get_prompt("month_end_reconciliation", {"month": LONG})
        with pytest.raises(MCPError) as not_an_id:
            await client.get_prompt("onboard_new_client", {"paymo_client_id": "abc"})
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("month_end_reconciliation", {})
        fine = await client.get_prompt("onboard_new_client", {"paymo_client_id": "10008"})
    assert too_long.value.message.startswith(
        "INPUT: prompt month_end_reconciliation got arguments it does not accept — month: String should "
        "have at most 40 characters"
    )
    assert LONG not in too_long.value.message
    assert not_an_id.value.message.startswith("INPUT: prompt onboard_new_client got arguments it does not")
    assert "paymo_client_id" in not_an_id.value.message
    assert missing.value.message.startswith("INPUT: prompt month_end_reconciliation")
    assert "month" in (missing.value.message)
    assert "10008" in str(fine.messages[0].content)


async def test_a_plan_hash_that_is_not_one_is_refused_without_repeating_it(server_env: ServerEnv) -> None:
    async with server_env.client() as client:
        with pytest.raises(MCPError) as wrong:
            await client.read_resource(f"paymo-qb://plans/{LONG}")
        with pytest.raises(MCPError) as unknown:
            await client.read_resource(f"paymo-qb://plans/{'ab' * 32}")
    assert wrong.value.message.startswith("INPUT: plan_hash is the 64 hexadecimal characters")
    assert LONG not in wrong.value.message
    assert unknown.value.message.startswith("NOT_FOUND: no recent plan")


async def test_thousands_of_bad_items_are_a_short_error(server_env: ServerEnv) -> None:
    async with server_env.client() as client:
        result = await client.call_tool("sync_invoice", {"paymo_invoice_ids": [0] * 5000})
    text = text_of(result)
    assert text.startswith("INPUT: sync_invoice got arguments it does not accept — paymo_invoice_ids.0: ")
    assert "paymo_invoice_ids.4: " in text
    assert "paymo_invoice_ids.5: " not in text
    assert "and 4995 more like these" in text
    assert text.count("(accepts ") == 1
    assert len(text) < 1000
