"""QBO error bodies (all three shapes) and their mapping onto the typed errors of ``errors.py``.

QBO spells failures three ways: the standard ``{"Fault": {"Error": [...]}}`` JSON, the API gateway's
lower-case ``{"fault": {"error": [...]}}`` JSON on 401/403, and XML ``<Fault>`` bodies (throttling,
some auth failures) even when JSON was asked for. The HTTP status is decisive first (401, 429, 5xx);
otherwise the fault code picks the error class, because every 4xx business error arrives as 400.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from paymo_qb_mcp.errors import (
    AuthError,
    ClosedPeriod,
    Conflict,
    DataError,
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
from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.net.redact import MASK, redact_text
from paymo_qb_mcp.net.retry import parse_retry_after

__all__ = [
    "SERVICE",
    "Fault",
    "FaultError",
    "Operation",
    "error_for_fault",
    "error_for_response",
    "fault_from_json",
    "fault_from_xml",
    "parse_fault",
]

SERVICE = "quickbooks"

# What the request was doing decides how an ambiguous code reads: 610 on a read means "no such
# record", on a write "something it references is inactive or gone".
Operation = Literal["read", "query", "create", "update", "delete", "void", "batch"]
_READS: frozenset[Operation] = frozenset({"read", "query"})

_AUTH_CODES = frozenset({"100", "120", "3100", "3200"})
_THROTTLE_CODE = "3001"
# A Detail may quote part of a token ("Token expired: ..."); long opaque runs are masked.
_OPAQUE_RUN = re.compile(r"[A-Za-z0-9._~+/=-]{24,}")
# Canadian companies are told "Make sure all your transactions have a GST/HST rate before you save."
_MENTIONS_TAX = re.compile(r"\btax|\b(?:GST|HST|QST|PST|VAT)\b", re.IGNORECASE)
# GUESS: QBO answers 610 both for a write whose *target* was deleted ("Another user has deleted this
# transaction.") and for a write referencing an inactive customer/item/account. Only the former
# wording says the record itself is gone, so only it reads as NotFound on a write.
_TARGET_DELETED = re.compile(r"deleted this transaction", re.IGNORECASE)
_SNIPPET_LIMIT = 300


@dataclass(frozen=True)
class FaultError:
    """One entry of a fault's error list; ``code`` is normalised to digits without leading zeros."""

    code: str | None
    message: str | None
    detail: str | None
    element: str | None


@dataclass(frozen=True)
class Fault:
    type: str | None
    errors: tuple[FaultError, ...]

    @property
    def primary(self) -> FaultError | None:
        """The error that decides the class: the first whose code means something specific."""
        for error in self.errors:
            if error.code in _SPECIFIC_CODES:
                return error
        return self.errors[0] if self.errors else None


_SPECIFIC_CODES = frozenset(
    {*_AUTH_CODES, _THROTTLE_CODE, "5010", "6240", "6140", "6200", "6210", "610", "2500", "6000"}
)


def _normalise_code(code: object) -> str | None:
    if code is None:
        return None
    text = str(code).strip()
    if text.isdigit():
        return str(int(text))
    return text or None


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _get(mapping: Mapping[str, Any], name: str) -> Any:
    """A key in QBO's PascalCase spelling or the gateway's lower-case one."""
    if name in mapping:
        return mapping[name]
    return mapping.get(name[:1].lower() + name[1:])


def fault_from_json(document: object) -> Fault | None:
    """The fault in a decoded JSON body (standard or gateway shape), or None if it carries none."""
    if not isinstance(document, Mapping):
        return None
    fault = _get(document, "Fault")
    if not isinstance(fault, Mapping):
        return None
    raw_errors = _get(fault, "Error")
    if isinstance(raw_errors, Mapping):
        raw_errors = [raw_errors]
    errors: list[FaultError] = []
    for raw in raw_errors if isinstance(raw_errors, list) else []:
        if isinstance(raw, Mapping):
            errors.append(
                FaultError(
                    code=_normalise_code(_get(raw, "code")),
                    message=_text(_get(raw, "Message")),
                    detail=_text(_get(raw, "Detail")),
                    element=_text(_get(raw, "element")),
                )
            )
    return Fault(type=_text(_get(fault, "type")), errors=tuple(errors))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def fault_from_xml(content: bytes | str) -> Fault | None:
    """The ``<Fault>`` in an XML body (``IntuitResponse`` wrapper or bare), or None."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return None
    fault_element = next((element for element in root.iter() if _local(element.tag) == "Fault"), None)
    if fault_element is None:
        return None
    errors: list[FaultError] = []
    for error in fault_element:
        if _local(error.tag) != "Error":
            continue
        children = {_local(child.tag): (child.text or "") for child in error}
        errors.append(
            FaultError(
                code=_normalise_code(error.get("code")),
                message=_text(children.get("Message")),
                detail=_text(children.get("Detail")),
                element=_text(error.get("element")),
            )
        )
    return Fault(type=_text(fault_element.get("type")), errors=tuple(errors))


def parse_fault(response: httpx.Response) -> Fault | None:
    """The fault in a response body, read as JSON or XML according to its Content-Type."""
    content_type = response.headers.get("Content-Type", "").lower()
    body = response.content
    if not body.strip():
        return None
    looks_like_xml = body.lstrip().startswith(b"<")
    if "json" in content_type or (not content_type and not looks_like_xml):
        try:
            return fault_from_json(jsonwire.loads(body))
        except DataError:
            # A JSON Content-Type over an XML or HTML body happens on gateway errors.
            return fault_from_xml(body) if looks_like_xml else None
    if "xml" in content_type or looks_like_xml:
        return fault_from_xml(body)
    return None


def _safe(text: str | None) -> str | None:
    if text is None:
        return None
    return _OPAQUE_RUN.sub(MASK, redact_text(text))


def _snippet(response: httpx.Response) -> str | None:
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        return None
    text = " ".join(text.split())
    if not text:
        return None
    if len(text) > _SNIPPET_LIMIT:
        text = text[:_SNIPPET_LIMIT] + "…"
    return _safe(text)


_ADVICE: dict[type[PaymoQbError], str] = {
    Transient: "Retry later.",
    Conflict: "The record changed in QuickBooks since it was read: re-read it, re-plan, then apply again.",
    NotFound: "The record does not exist in QuickBooks (it may have been deleted); re-read or re-link it.",
    DuplicateName: "Another customer, vendor or employee (or item/account) already uses this name; "
    "reuse that record or choose a distinct name.",
    DuplicateDocNumber: "This document number is already used in QuickBooks; reuse that record or renumber.",
    ClosedPeriod: "The transaction date falls in a closed accounting period; ask the bookkeeper to "
    "reopen it or use a date after the close date.",
    InactiveReference: "A referenced customer, item, account or vendor is inactive or deleted; "
    "reactivate it or map to another one.",
    TaxCodeRequired: "This company needs a tax code on every line; map the Paymo tax to a QBO TaxCode.",
    Rejected: "QuickBooks refused the data; fix it before trying again.",
    AuthError: "Reconnect with `paymo-qb-mcp auth quickbooks` if this persists.",
}


def _by_code(error: FaultError | None, operation: Operation) -> type[PaymoQbError]:
    code = error.code if error else None
    if code == _THROTTLE_CODE:
        return Transient
    if code in _AUTH_CODES:
        return AuthError
    if code == "5010":
        return Conflict
    if code == "6240":
        return DuplicateName
    if code == "6140":
        return DuplicateDocNumber
    if code in ("6200", "6210"):
        return ClosedPeriod
    if code == "2500":
        return InactiveReference
    if code == "610":
        if operation in _READS:
            return NotFound
        wording = f"{error.message or ''} {error.detail or ''}" if error else ""
        return NotFound if _TARGET_DELETED.search(wording) else InactiveReference
    if code == "6000" and error and _MENTIONS_TAX.search(f"{error.message or ''} {error.detail or ''}"):
        return TaxCodeRequired
    return Rejected


def _classify(status: int | None, fault: Fault | None, operation: Operation) -> type[PaymoQbError]:
    primary = fault.primary if fault else None
    if status == 401:
        return AuthError
    if status == 429:
        return Transient
    if status is not None and status >= 500:
        return Transient
    if status == 403:
        # 403 is authorisation (3100, 120) unless the body says otherwise (a 2016-era throttle was 403/3001).
        by_code = _by_code(primary, operation)
        return by_code if by_code is not Rejected else AuthError
    return _by_code(primary, operation)


def _describe(fault: Fault | None, status: int | None, fallback: str | None) -> str:
    parts: list[str] = []
    for error in fault.errors if fault else ():
        label = error.message or "error"
        code = f" (fault {error.code})" if error.code else ""
        detail = f": {_safe(error.detail)}" if error.detail else ""
        element = f" [field {error.element}]" if error.element else ""
        parts.append(f"{_safe(label)}{code}{detail}{element}")
    if not parts:
        parts.append(fallback or "no error detail in the response")
    http = f"HTTP {status}: " if status is not None else ""
    return http + "; ".join(parts)


def error_for_fault(
    fault: Fault | None,
    *,
    status: int | None,
    operation: Operation,
    what: str,
    request: RequestInfo | None,
    retry_after: float | None = None,
    fallback_detail: str | None = None,
) -> PaymoQbError:
    """The typed error for a fault. ``status`` is None for a batch item (the batch itself was 200).

    ``what`` names the call for the message, e.g. ``"create Invoice"`` or ``"read Customer 42"``.
    """
    error_class = _classify(status, fault, operation)
    primary = fault.primary if fault else None
    description = _describe(fault, status, fallback_detail)
    tid = request.upstream_request_id if request else None
    where = f" (intuit_tid {tid})" if tid else ""
    message = f"QuickBooks {what} failed{where}: {description}. {_ADVICE[_advice_key(error_class)]}"
    if error_class is AuthError:
        # AuthError carries no upstream fields of its own, so the code and request id live in the text.
        return AuthError(message)
    fault_code = primary.code if primary else None
    detail = _safe(primary.detail) if primary and primary.detail else fallback_detail
    if error_class is Transient:
        return Transient(
            message + (f" QuickBooks asked to wait {retry_after:g} s." if retry_after is not None else ""),
            service=SERVICE,
            retry_after=retry_after,
            status=status,
            fault_code=fault_code,
            detail=detail,
            request=request,
        )
    assert issubclass(error_class, UpstreamError)
    return error_class(
        message,
        service=SERVICE,
        status=status,
        fault_code=fault_code,
        detail=detail,
        element=primary.element if primary else None,
        request=request,
    )


def _advice_key(error_class: type[PaymoQbError]) -> type[PaymoQbError]:
    return error_class if error_class in _ADVICE else Rejected


def error_for_response(
    response: httpx.Response,
    *,
    operation: Operation,
    what: str,
    request: RequestInfo | None,
    fault: Fault | None = None,
) -> PaymoQbError:
    """The typed error for a non-2xx response (or a 2xx whose body holds a Fault)."""
    if fault is None:
        fault = parse_fault(response)
    return error_for_fault(
        fault,
        status=response.status_code,
        operation=operation,
        what=what,
        request=request,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        fallback_detail=None if fault and fault.errors else _snippet(response),
    )
