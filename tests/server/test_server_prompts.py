"""The shipped prompts: the month-end walk-through plans each write once — the human sees the plan at its
approval — and syncs the month's invoices as one period plan, never "dry run first"."""

from __future__ import annotations

import re
from typing import Any


async def test_month_end_plans_each_write_once_and_syncs_the_month_as_one_plan(server_env: Any) -> None:
    async with server_env.client() as client:
        listed = {prompt.name: prompt for prompt in (await client.list_prompts()).prompts}
        prompt = await client.get_prompt("month_end_reconciliation", {"month": "November 2026"})
    assert [argument.name for argument in listed["month_end_reconciliation"].arguments or []] == ["month"]
    text = " ".join(prompt.messages[0].content.text.split())  # type: ignore[union-attr]
    assert "for November 2026" in text
    assert "never approve anything yourself" in text
    assert "Call `sync_invoice` with date_from/date_to for the month" in text
    # A dry run is what the human asks for, never a step before the real call.
    mentions = [found.strip() for found in re.findall(r"[^.]*\bdry[ _]run[^.]*", text, flags=re.IGNORECASE)]
    assert mentions == [
        "Call each write tool once, without dry_run: every call plans first, and when the policy wants a "
        "human, that human is shown the plan (totals, changes and findings) and approves it or not before "
        "anything is written; what the policy allows is applied directly",
        "A dry run first would read both systems twice for the same plan, so use dry_run=true only when the "
        "human asks to see a plan without applying it",
    ]
    assert "approve_command" in text
    assert text.count("reconciliation_report") == 2  # at the start and at the end, not per step
