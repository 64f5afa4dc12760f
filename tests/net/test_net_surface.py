"""The public surface of paymo_qb_mcp.net changes only on purpose."""

from __future__ import annotations

import paymo_qb_mcp.net as net


def test_public_names_are_exactly_these() -> None:
    assert sorted(net.__all__) == [
        "DEFAULT_REQUEST_ID_HEADERS",
        "HttpService",
        "MASK",
        "PaymoPacer",
        "QboRealmLimiter",
        "RateLimiter",
        "RetryDecision",
        "RetryPolicy",
        "USER_AGENT",
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
    assert all(hasattr(net, name) for name in net.__all__)
