"""QBO fault bodies: the standard `Fault` shape, error codes and texts, and the gateway/throttle variants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paymo_qb_mcp.sandbox.quickbooks.wire import NAMESPACE, format_envelope_time


@dataclass(frozen=True)
class ErrorItem:
    """One entry of `Fault.Error`: `code` is a string, `element` names the field when known."""

    message: str
    detail: str
    code: str
    element: str = ""

    def to_wire(self) -> dict[str, str]:
        return {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}


class QboFault(Exception):
    """A fault the emulator answers with (HTTP 400 `ValidationFault` unless said otherwise)."""

    def __init__(
        self, errors: Sequence[ErrorItem], *, fault_type: str = "ValidationFault", status: int = 400
    ) -> None:
        super().__init__("; ".join(f"{error.code} {error.message}: {error.detail}" for error in errors))
        self.errors = list(errors)
        self.fault_type = fault_type
        self.status = status

    @property
    def code(self) -> str:
        return self.errors[0].code

    def body(self) -> dict[str, Any]:
        """The `Fault` object, as it appears in envelopes and batch items."""
        return {"Error": [error.to_wire() for error in self.errors], "type": self.fault_type}


def fault(code: str, message: str, detail: str, element: str = "", *, status: int = 400) -> QboFault:
    return QboFault([ErrorItem(message, detail, code, element)], status=status)


def unknown_property(name: str, entity: str) -> QboFault:
    # GUESS: code 2010 and this Jackson-flavoured text are what real QBO returns for unknown keys
    # (reference §5 marks the code as suspected).
    return fault(
        "2010",
        "Request has invalid or unsupported property",
        f'Property Name:Unrecognized field "{name}" (class com.intuit.schema.finance.v3.{entity}), '
        "not marked as ignorable specified is unsupported or invalid",
        name,
    )


def invalid_value(name: str, value: object, expected: str) -> QboFault:
    return fault(
        "2010",
        "Request has invalid or unsupported property",
        f"Property Name:Can not construct instance of {expected} from value {value!r} "
        "specified is unsupported or invalid",
        name,
    )


def required(element: str, what: str | None = None) -> QboFault:
    return fault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {what or element} is missing in the request",
        element,
    )


def too_long(element: str, limit: int, supplied: int) -> QboFault:
    return fault(
        "2050",
        "String length is either shorter or longer than supported by specification",
        f"String length specified does not match the supported length. Min:0 Max:{limit} supported. "
        f"Supplied length:{supplied}",
        element,
    )


def invalid_enum(element: str, value: object) -> QboFault:
    return fault("2170", "Invalid Enumeration", f"Invalid Enumeration : {value}", element)


def invalid_email(element: str, value: str) -> QboFault:
    return fault(
        "2210",
        "Email Address does not conform to the syntax rules of RFC 822",
        f"Email Address does not conform to the syntax rules of RFC 822. Supplied value:{value}",
        element,
    )


def invalid_reference(entity: str, ident: str, element: str) -> QboFault:
    return fault(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {entity} element id {ident} not found",
        element,
    )


def inactive_reference(element: str) -> QboFault:
    return fault(
        "610",
        "Object Not Found",
        "Object Not Found : Something you're trying to use has been made inactive. Check the fields with "
        "accounts, customers, items, vendors or employees.",
        element,
    )


def object_not_found(entity: str, *, transaction: bool) -> QboFault:
    detail = (
        "Object Not Found : Another user has deleted this transaction."
        if transaction
        else "Object Not Found : Something you're trying to use has been made inactive. Check the fields "
        "with accounts, customers, items, vendors or employees."
    )
    return fault("610", "Object Not Found", detail, entity)


def stale_object() -> QboFault:
    return fault(
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and root were working on this at the same time. root finished before you "
        "did, so your work was not saved.",
    )


def duplicate_name(kinds: str) -> QboFault:
    return fault(
        "6240",
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : Another {kinds} is already using this name. "
        "Please use a different name.",
    )


def no_name_provided() -> QboFault:
    return fault(
        "6080",
        "No Name Provided",
        "Please provide at least one of: Title, GivenName, MiddleName, FamilyName, DisplayName, Suffix.",
    )


def duplicate_doc_number(doc_number: str, txn_type: str) -> QboFault:
    return fault(
        "6140",
        "Duplicate Document Number Error",
        f"Duplicate Document Number Error : You must specify a different number. This number has already "
        f"been used. DocNumber={doc_number} is assigned to TxnType={txn_type}",
        "DocNumber",
    )


def period_closed() -> QboFault:
    return fault(
        "6210",
        "Account Period Closed",
        "The account period has closed and the account books cannot be updated through the QBO Services "
        "API. Please use the QBO website to make these changes.",
    )


def amount_mismatch(supplied: object) -> QboFault:
    return fault(
        "6070",
        "Amount calculation incorrect",
        f"Amount is not equal to Qty * UnitPrice. Supplied value: {supplied}",
        "Line.Amount",
    )


def business_validation(detail: str, element: str = "") -> QboFault:
    return fault(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element,
    )


def cannot_link(txn_id: str) -> QboFault:
    return fault(
        "620",
        "Transaction ID cannot be linked",
        f"The transaction {txn_id} cannot be linked to this transaction: it belongs to another customer, "
        "is in another currency, or is not open.",
        "LinkedTxn",
    )


def unsupported_operation(detail: str) -> QboFault:
    return fault("500", "Unsupported Operation", detail)


def query_parse_error(detail: str) -> QboFault:
    return fault("4000", "Error parsing query", f"QueryParserError: {detail}")


def query_validation_error(detail: str) -> QboFault:
    return fault("4001", "Invalid query", f"QueryValidationError: {detail}")


def system_fault(status: int) -> QboFault:
    """What an injected 5xx carries (reference §5: code 10000+ are severe/internal)."""
    return QboFault(
        [
            ErrorItem(
                "An application error has occurred while processing your request",
                f"System Failure Error: the service answered HTTP {status}. Please try again.",
                "10000",
            )
        ],
        fault_type="SystemFault",
        status=status,
    )


def gateway_unauthorized(detail: str | None, epoch_ms: int) -> dict[str, Any]:
    """The API gateway's 401 body: lower-case keys and `time` in epoch milliseconds (reference §2.3b)."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": epoch_ms,
        "status": None,
        "cdcresponse": [],
    }


def gateway_forbidden(epoch_ms: int) -> dict[str, Any]:
    body = gateway_unauthorized(None, epoch_ms)
    body["fault"] = {
        "error": [
            {
                "message": "message=AuthorizationFailed; errorCode=003100; statusCode=403",
                "detail": None,
                "code": "3100",
                "element": None,
            }
        ],
        "type": "SERVICE",
    }
    return body


def _xml_fault(moment: datetime, fault_type: str, code: str, message: str, detail: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<IntuitResponse xmlns="{NAMESPACE}" time="{format_envelope_time(moment)}">'
        f'<Fault type="{fault_type}"><Error code="{code}"><Message>{message}</Message>'
        f"<Detail>{detail}</Detail></Error></Fault></IntuitResponse>"
    ).encode()


def throttle_xml(moment: datetime) -> bytes:
    """HTTP 429 is always XML, even when JSON was requested (reference §2.3c)."""
    return _xml_fault(
        moment,
        "SERVICE",
        "3001",
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached.  Try again later",
    )


def realm_mismatch_xml(moment: datetime) -> bytes:
    """A valid token used on another (or an unknown) company: XML `AuthenticationFault` code 100."""
    return _xml_fault(
        moment,
        "AuthenticationFault",
        "100",
        "General Authentication Error",
        "AuthenticationErrorGeneral: SRV-110-Authentication Failure , statusCode: 401",
    )
