"""Reading QBO's three fault shapes and mapping them onto the typed errors."""

from __future__ import annotations

import httpx
import pytest

from paymo_qb_mcp.errors import (
    AuthError,
    ClosedPeriod,
    Conflict,
    DuplicateDocNumber,
    DuplicateName,
    InactiveReference,
    NotFound,
    PaymoQbError,
    Rejected,
    RequestInfo,
    TaxCodeRequired,
    Transient,
    UpstreamError,
)
from paymo_qb_mcp.quickbooks.faults import (
    Fault,
    FaultError,
    Operation,
    error_for_fault,
    error_for_response,
    fault_from_json,
    fault_from_xml,
    parse_fault,
)

STANDARD = (
    b'{"Fault": {"Error": [{"Message": "Duplicate Name Exists Error", "Detail": "The name supplied already '
    b"exists. : Another customer, vendor or employee is already using this name. Please use a different "
    b'name.", "code": "6240", "element": ""}], "type": "ValidationFault"}, '
    b'"time": "2017-09-29T09:17:31.892-07:00"}'
)
GATEWAY_401 = (
    b'{"warnings": null, "intuitObject": null, "fault": {"error": [{"message": '
    b'"message=AuthenticationFailed; errorCode=003200; statusCode=401", '
    b'"detail": "Token expired: eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0x", '
    b'"code": "3200", "element": null}], "type": "AUTHENTICATION"}, "report": null, "queryResponse": null, '
    b'"batchItemResponse": [], "attachableResponse": [], "syncErrorResponse": null, "requestId": null, '
    b'"time": 1633520295688, "status": null, "cdcresponse": []}'
)
GATEWAY_403 = (
    b'{"fault": {"error": [{"message": "message=AuthorizationFailed; errorCode=003100; statusCode=403", '
    b'"detail": null, "code": "3100", "element": null}], "type": "SERVICE"}, "time": 1633520295688}'
)
THROTTLED_XML = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<IntuitResponse time="2017-07-30T22:45:22.933-07:00" xmlns="http://schema.intuit.com/finance/v3">
  <Fault type="SERVICE"><Error code="3001">
    <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>
    <Detail>The request limit was reached.  Try again later</Detail>
  </Error></Fault></IntuitResponse>"""
AUTH_XML = (
    b'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3"><Fault type="AuthenticationFault">'
    b'<Error code="100"><Message>General Authentication Error</Message><Detail>AuthenticationErrorGeneral: '
    b"SRV-110-Authentication Failure , statusCode: 401</Detail></Error></Fault></IntuitResponse>"
)

REQUEST = RequestInfo(
    method="POST",
    url="https://quickbooks.api.intuit.com/v3/company/9130/customer?requestid=abc&minorversion=75",
    upstream_request_id="1-6578a3b2-4cd5a1",
)


def response(status: int, body: bytes, content_type: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"Content-Type": content_type, **headers})


def test_the_standard_fault_shape_is_read() -> None:
    fault = fault_from_json(
        {"Fault": {"Error": [{"Message": "Stale Object Error", "code": "5010"}], "type": "x"}}
    )
    assert fault == Fault(
        type="x", errors=(FaultError(code="5010", message="Stale Object Error", detail=None, element=None),)
    )


def test_the_gateway_lower_case_shape_is_read_and_zero_padded_codes_normalised() -> None:
    fault = parse_fault(response(401, GATEWAY_401, "application/json;charset=UTF-8"))
    assert fault is not None
    assert fault.type == "AUTHENTICATION"
    assert fault.errors[0].code == "3200"
    assert fault.errors[0].message == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
    assert fault_from_json({"fault": {"error": [{"code": "003100"}]}}) == Fault(
        type=None, errors=(FaultError(code="3100", message=None, detail=None, element=None),)
    )


def test_xml_faults_are_read_even_when_json_was_asked_for() -> None:
    fault = parse_fault(response(429, THROTTLED_XML, "application/xml"))
    assert fault == Fault(
        type="SERVICE",
        errors=(
            FaultError(
                code="3001",
                message="message=ThrottleExceeded; errorCode=003001; statusCode=429",
                detail="The request limit was reached.  Try again later",
                element=None,
            ),
        ),
    )
    assert fault_from_xml(AUTH_XML) == Fault(
        type="AuthenticationFault",
        errors=(
            FaultError(
                code="100",
                message="General Authentication Error",
                detail="AuthenticationErrorGeneral: SRV-110-Authentication Failure , statusCode: 401",
                element=None,
            ),
        ),
    )


def test_a_body_is_read_by_what_it_is_when_the_content_type_lies_or_is_missing() -> None:
    assert parse_fault(response(429, THROTTLED_XML, "application/json")) is not None
    assert parse_fault(httpx.Response(400, content=STANDARD)) is not None
    assert parse_fault(response(502, b"<html><body>Bad gateway</body></html>", "text/html")) is None
    assert parse_fault(response(500, b"", "application/json")) is None
    assert fault_from_json({"QueryResponse": {}}) is None


INACTIVE = "Object Not Found : Something you're trying to use has been made inactive."
GST_MISSING = (
    "Business Validation Error: Make sure all your transactions have a GST/HST rate before you save."
)

# (HTTP status or None for a batch item, fault code, Detail, operation, expected error class)
CASES: list[tuple[int | None, str, str, Operation, type[PaymoQbError]]] = [
    (400, "5010", "You and root were working on this at the same time.", "update", Conflict),
    (400, "6240", "The name supplied already exists.", "create", DuplicateName),
    (400, "6140", "This number has already been used.", "create", DuplicateDocNumber),
    (400, "6200", "The books are closed.", "create", ClosedPeriod),
    (400, "6210", "Account period closed, cannot update through services API", "update", ClosedPeriod),
    (400, "610", INACTIVE, "create", InactiveReference),
    (400, "610", INACTIVE, "update", InactiveReference),
    (400, "610", "Object Not Found : Another user has deleted this transaction.", "update", NotFound),
    (400, "610", INACTIVE, "read", NotFound),
    (400, "610", "", "query", NotFound),
    (400, "2500", "Invalid Reference Id : Names element id 99 not found", "create", InactiveReference),
    (400, "6000", GST_MISSING, "create", TaxCodeRequired),
    (400, "6000", "Business Validation Error: Line 1 needs a tax code.", "create", TaxCodeRequired),
    (400, "6000", "Business Validation Error: You must set a transaction amount.", "create", Rejected),
    (400, "2020", "Required parameter Line.DetailType is missing", "create", Rejected),
    (400, "4000", 'QueryParserError: Encountered " <OR> ', "query", Rejected),
    (404, "", "", "read", Rejected),
    (401, "3200", "Token expired", "read", AuthError),
    (403, "3100", "", "read", AuthError),
    (400, "100", "AuthenticationErrorGeneral: SRV-110-Authentication Failure", "read", AuthError),
    (400, "120", "--11014-You do not have access to use QuickBooks Online Plus", "read", AuthError),
    (429, "3001", "The request limit was reached.", "create", Transient),
    (403, "3001", "The request limit was reached.", "read", Transient),
    (500, "10000", "System Failure Error", "create", Transient),
    (503, "", "", "read", Transient),
    (None, "6240", "", "create", DuplicateName),
    (200, "6140", "", "create", DuplicateDocNumber),
]


@pytest.mark.parametrize(("status", "code", "detail", "operation", "expected"), CASES)
def test_every_fault_maps_to_the_error_the_caller_acts_on(
    status: int | None, code: str, detail: str, operation: Operation, expected: type[PaymoQbError]
) -> None:
    fault = Fault(type="ValidationFault", errors=(FaultError(code or None, "Error", detail or None, "Line"),))
    error = error_for_fault(
        fault if code else None, status=status, operation=operation, what="create Customer", request=REQUEST
    )
    assert type(error) is expected
    assert "QuickBooks create Customer failed (intuit_tid 1-6578a3b2-4cd5a1)" in error.message
    if code:
        assert f"fault {code}" in error.message
    if isinstance(error, UpstreamError):
        assert error.service == "quickbooks"
        assert error.status == status
        assert error.fault_code == (code or None)
        assert error.detail == (detail or None)
        assert error.request is REQUEST
        assert error.upstream_request_id == "1-6578a3b2-4cd5a1"
        if not isinstance(error, Transient) and code:
            assert error.element == "Line"


def test_the_first_specific_error_decides_when_a_fault_lists_several() -> None:
    fault = Fault(
        type="ValidationFault",
        errors=(
            FaultError("2020", "Required param missing", None, "Line"),
            FaultError("6240", "Duplicate Name Exists Error", None, None),
        ),
    )
    error = error_for_fault(fault, status=400, operation="create", what="create Customer", request=None)
    assert isinstance(error, DuplicateName)
    assert "Required param missing (fault 2020)" in error.message


def test_a_429_carries_retry_after_from_the_header() -> None:
    error = error_for_response(
        response(429, THROTTLED_XML, "application/xml", **{"Retry-After": "17"}),
        operation="read",
        what="read Customer 1",
        request=REQUEST,
    )
    assert isinstance(error, Transient)
    assert error.retry_after == 17.0
    assert error.fault_code == "3001"
    assert "wait 17 s" in error.message


def test_auth_errors_name_the_fault_and_request_id_but_never_the_token() -> None:
    error = error_for_response(
        response(401, GATEWAY_401, "application/json"),
        operation="read",
        what="read Customer 1",
        request=REQUEST,
    )
    assert type(error) is AuthError
    assert "fault 3200" in error.message
    assert "1-6578a3b2-4cd5a1" in error.message
    assert "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0x" not in error.message
    assert "Token expired" in error.message


def test_an_error_page_without_a_fault_is_classified_by_status_with_a_short_snippet() -> None:
    page = b"<html><body>" + b"Service Unavailable " * 100 + b"</body></html>"
    error = error_for_response(
        response(503, page, "text/html"), operation="read", what="read Item 1", request=None
    )
    assert isinstance(error, Transient)
    assert error.detail is not None
    assert error.detail.startswith("<html><body>Service Unavailable")
    assert len(error.detail) <= 301
