"""HTTP plumbing shared by both API clients: JSON wire codec, retries, rate limits, redaction.

Names load on first use, so a module that needs one light part (``net.redact``, ``net.waits``) does not
import httpx and the rest with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "DEFAULT_REQUEST_ID_HEADERS": "http",
    "USER_AGENT": "http",
    "HttpService": "http",
    "request_info": "http",
    "PaymoPacer": "ratelimit",
    "QboRealmLimiter": "ratelimit",
    "RateLimiter": "ratelimit",
    "UnlimitedLimiter": "ratelimit",
    "clear_limiters": "ratelimit",
    "key_fingerprint": "ratelimit",
    "limiter_for": "ratelimit",
    "MASK": "redact",
    "is_sensitive_name": "redact",
    "redact_headers": "redact",
    "redact_json": "redact",
    "redact_text": "redact",
    "redact_url": "redact",
    "RetryDecision": "retry",
    "RetryPolicy": "retry",
    "decide_retry": "retry",
    "parse_retry_after": "retry",
}


def __getattr__(name: str) -> Any:
    if name == "jsonwire":
        return importlib.import_module(f"{__name__}.jsonwire")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
