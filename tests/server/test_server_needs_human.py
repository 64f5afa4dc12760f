"""A finding in REQUIRES_HUMAN turns the policy's allow into confirm; never a deny or confirm into allow."""

from __future__ import annotations

import pytest

from paymo_qb_mcp.config.policy import Decision
from paymo_qb_mcp.domain.plan import Change, Finding, Plan
from paymo_qb_mcp.server.governance import needing_human

UPDATE = Change(
    action="update",
    entity="invoice",
    paymo_id=50005,
    qbo_id="146",
    before={"DueDate": "2027-01-15"},
    after={"DueDate": "2026-12-02"},
    payload={"DueDate": "2026-12-02"},
    summary="Update QuickBooks invoice INV-2026-1039",
    link_kind="invoice",
    wire_entity="Invoice",
)
SKIP = Change(action="skip", entity="invoice", paymo_id=50005, summary="unchanged")
EDITED = Finding(
    severity="warning", code="EDITED_IN_QUICKBOOKS", message="DueDate was changed in QuickBooks", record="x"
)
OTHER_WARNING = Finding(severity="warning", code="CUSTOMER_MOVED", message="moved", record="x")


def plan(*findings: Finding, change: Change = UPDATE) -> Plan:
    return Plan.build("sync_invoice", [change], findings=findings)


ALLOW = Decision("allow", "small invoices", "rule 'small invoices': amount < 5000")


def test_an_edit_in_quickbooks_turns_allow_into_confirm_and_says_why() -> None:
    decided = needing_human(plan(EDITED), ALLOW)
    assert decided.effect == "confirm"
    assert decided.rule_name == "small invoices"
    assert decided.reason.startswith("rule 'small invoices': amount < 5000, but a human must confirm")
    assert "EDITED_IN_QUICKBOOKS" in decided.reason


@pytest.mark.parametrize(
    "decision",
    [
        Decision("deny", "closed books", "rule 'closed books': dated before 2026-01-01"),
        Decision("confirm", None, "no rule matched; the default is confirm"),
    ],
)
def test_deny_and_confirm_stay_as_they_are(decision: Decision) -> None:
    assert needing_human(plan(EDITED), decision) == decision


def test_other_findings_and_plans_that_write_nothing_leave_allow_alone() -> None:
    assert needing_human(plan(OTHER_WARNING), ALLOW) == ALLOW
    assert needing_human(plan(), ALLOW) == ALLOW
    assert plan(EDITED, change=SKIP).needs_human == ()
    assert needing_human(plan(EDITED, change=SKIP), ALLOW) == ALLOW
