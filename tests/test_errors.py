"""The error tree: stable codes, agent-facing text, and the grouping callers branch on."""

from __future__ import annotations

import pytest

from paymo_qb_mcp import errors


def test_every_error_has_a_distinct_stable_code() -> None:
    classes = [getattr(errors, name) for name in errors.__all__ if name != "RequestInfo"]
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), codes


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (errors.ReauthorizationRequired, errors.AuthError),
        (errors.Transient, errors.UpstreamError),
        (errors.Conflict, errors.UpstreamError),
        (errors.DuplicateName, errors.Rejected),
        (errors.DuplicateDocNumber, errors.Rejected),
        (errors.ClosedPeriod, errors.Rejected),
        (errors.InactiveReference, errors.Rejected),
        (errors.TaxCodeRequired, errors.Rejected),
    ],
)
def test_errors_are_grouped_by_what_the_caller_does_next(cls: type, parent: type) -> None:
    assert issubclass(cls, parent)
    assert issubclass(cls, errors.PaymoQbError)


def test_agent_text_starts_with_the_code() -> None:
    err = errors.DuplicateName(
        "Another customer, vendor or employee is already called 'Wayne Enterprises'.",
        service="quickbooks",
        status=400,
        fault_code="6240",
        request=errors.RequestInfo("POST", "https://qbo.example/v3/company/1/customer", "tid-1"),
    )
    assert err.for_agent().startswith("DUPLICATE_NAME: ")
    assert err.upstream_request_id == "tid-1"
    assert err.fault_code == "6240"


def test_transient_keeps_retry_after() -> None:
    err = errors.Transient("throttled", service="quickbooks", status=429, retry_after=7.5)
    assert err.retry_after == 7.5
    assert err.status == 429
