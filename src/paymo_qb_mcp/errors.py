"""The whole exception tree of paymo-qb-mcp, grouped by what the caller should do next.

    PaymoQbError                      code        what to do next
    ├── ConfigError                   CONFIG      fix configuration; never retried (incl. wrong realm)
    ├── AuthError                     AUTH        credentials rejected; check the key/token
    │   └── ReauthorizationRequired   REAUTH      run `paymo-qb-mcp auth quickbooks` (or `auth paymo`) again
    ├── PolicyDenied                  POLICY_DENIED   policies.yaml forbids this write; names the rule
    ├── RateLimitedLocally            WRITE_LIMIT     the policy's writes-per-minute budget; retry after N s
    ├── ApprovalError                 APPROVAL    approval missing, expired, used, rejected, or plan changed
    ├── UpstreamError                 UPSTREAM    a service answered with an error (status, code, request id)
    │   ├── Transient                 TRANSIENT   rate limited / unavailable / timeout: retry later
    │   ├── Conflict                  CONFLICT    stale SyncToken (5010): re-read, re-plan
    │   ├── NotFound                  NOT_FOUND   the record does not exist (QBO 610 on read, Paymo 404)
    │   └── Rejected                  REJECTED    the service refused the data; fix the data, do not retry
    │       ├── DuplicateName         DUPLICATE_NAME      QBO 6240
    │       ├── DuplicateDocNumber    DUPLICATE_DOCNUMBER QBO 6140
    │       ├── ClosedPeriod          CLOSED_PERIOD       QBO 6200/6210
    │       ├── InactiveReference     INACTIVE_REF        QBO 610/2500 on a write
    │       └── TaxCodeRequired       TAX_CODE_REQUIRED   QBO 6000 about tax codes
    ├── ReconciliationError           RECONCILIATION  amounts differ (plan time) or read-back mismatch
    ├── DataError                     DATA        unexpected wire shape from a service
    └── InputError                    INPUT       bad arguments from the caller: names the field and the fix

Every error carries a stable ``code`` (agents branch on it; tool errors start with it) and a
human message that says what happened, to which record, and what to do next. Messages never
contain secrets: the request context kept on ``UpstreamError`` is already redacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

__all__ = [
    "ApprovalError",
    "AuthError",
    "ClosedPeriod",
    "ConfigError",
    "Conflict",
    "DataError",
    "DuplicateDocNumber",
    "DuplicateName",
    "InactiveReference",
    "InputError",
    "NotFound",
    "PaymoQbError",
    "PolicyDenied",
    "RateLimitedLocally",
    "ReauthorizationRequired",
    "ReconciliationError",
    "Rejected",
    "RequestInfo",
    "TaxCodeRequired",
    "Transient",
    "UpstreamError",
]


class PaymoQbError(Exception):
    """Base of every error this package raises on purpose."""

    code: ClassVar[str] = "ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def for_agent(self) -> str:
        """The text a tool returns: the stable code first, so an agent can branch on it."""
        return f"{self.code}: {self.message}"


class ConfigError(PaymoQbError):
    """Configuration is missing or invalid; names the variable, file or field to fix."""

    code = "CONFIG"


class InputError(PaymoQbError):
    """A caller passed a bad argument; names the field, why, and what to send instead."""

    code = "INPUT"

    def __init__(self, message: str, *, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name


class AuthError(PaymoQbError):
    """A service rejected our credentials."""

    code = "AUTH"


class ReauthorizationRequired(AuthError):
    """Stored credentials can no longer be renewed; the human must run the auth command again."""

    code = "REAUTH"


class PolicyDenied(PaymoQbError):
    """policies.yaml denies this write."""

    code = "POLICY_DENIED"

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class RateLimitedLocally(PaymoQbError):
    """The policy's writes-per-minute budget is spent."""

    code = "WRITE_LIMIT"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApprovalError(PaymoQbError):
    """An approval is missing, expired, already used, rejected, or bound to a different plan."""

    code = "APPROVAL"


@dataclass(frozen=True)
class RequestInfo:
    """What we sent, redacted: enough to find the call in logs and support tickets."""

    method: str
    url: str
    upstream_request_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class UpstreamError(PaymoQbError):
    """A remote service (Paymo or QuickBooks) answered with an error."""

    code = "UPSTREAM"

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status: int | None = None,
        fault_code: str | None = None,
        detail: str | None = None,
        element: str | None = None,
        request: RequestInfo | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.status = status
        self.fault_code = fault_code
        self.detail = detail
        self.element = element
        self.request = request

    @property
    def upstream_request_id(self) -> str | None:
        return self.request.upstream_request_id if self.request else None


class Transient(UpstreamError):
    """Rate limited, unavailable or timed out; safe to retry later."""

    code = "TRANSIENT"

    def __init__(
        self,
        message: str,
        *,
        service: str,
        retry_after: float | None = None,
        status: int | None = None,
        fault_code: str | None = None,
        detail: str | None = None,
        request: RequestInfo | None = None,
    ) -> None:
        super().__init__(
            message, service=service, status=status, fault_code=fault_code, detail=detail, request=request
        )
        self.retry_after = retry_after


class Conflict(UpstreamError):
    """Stale SyncToken (QBO 5010): someone changed the record; re-read and re-plan."""

    code = "CONFLICT"


class NotFound(UpstreamError):
    """The record does not exist (or was deleted)."""

    code = "NOT_FOUND"


class Rejected(UpstreamError):
    """The service refused the data. Retrying the same request will not help."""

    code = "REJECTED"


class DuplicateName(Rejected):
    """QBO 6240: the DisplayName is used by another customer, vendor or employee."""

    code = "DUPLICATE_NAME"


class DuplicateDocNumber(Rejected):
    """QBO 6140: the document number is already used."""

    code = "DUPLICATE_DOCNUMBER"


class ClosedPeriod(Rejected):
    """QBO 6200/6210: the transaction date is in a closed accounting period."""

    code = "CLOSED_PERIOD"


class InactiveReference(Rejected):
    """QBO 610/2500 on a write: a referenced customer, item or account is inactive or gone."""

    code = "INACTIVE_REF"


class TaxCodeRequired(Rejected):
    """QBO 6000 about tax: a VAT/GST company needs a tax code on every line."""

    code = "TAX_CODE_REQUIRED"


class ReconciliationError(PaymoQbError):
    """Amounts do not match (at plan time), or a read-back differs from what was written."""

    code = "RECONCILIATION"

    def __init__(self, message: str, *, differences: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.differences = dict(differences or {})


class DataError(PaymoQbError):
    """A service returned a shape we do not understand."""

    code = "DATA"
