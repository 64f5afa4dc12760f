"""HTTP plumbing shared by both API clients: JSON wire codec, retries, rate limits, redaction."""

from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.net.http import DEFAULT_REQUEST_ID_HEADERS, USER_AGENT, HttpService, request_info
from paymo_qb_mcp.net.ratelimit import (
    PaymoPacer,
    QboRealmLimiter,
    RateLimiter,
    UnlimitedLimiter,
    clear_limiters,
    key_fingerprint,
    limiter_for,
)
from paymo_qb_mcp.net.redact import (
    MASK,
    is_sensitive_name,
    redact_headers,
    redact_json,
    redact_text,
    redact_url,
)
from paymo_qb_mcp.net.retry import RetryDecision, RetryPolicy, decide_retry, parse_retry_after

__all__ = [
    "DEFAULT_REQUEST_ID_HEADERS",
    "MASK",
    "USER_AGENT",
    "HttpService",
    "PaymoPacer",
    "QboRealmLimiter",
    "RateLimiter",
    "RetryDecision",
    "RetryPolicy",
    "UnlimitedLimiter",
    "clear_limiters",
    "decide_retry",
    "is_sensitive_name",
    "jsonwire",
    "key_fingerprint",
    "limiter_for",
    "parse_retry_after",
    "redact_headers",
    "redact_json",
    "redact_text",
    "redact_url",
    "request_info",
]
