"""The one place that knows which headers, URL parts and JSON keys are secrets, and replaces them with ***."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, parse_qsl, quote, urlsplit, urlunsplit

import httpx

__all__ = ["MASK", "is_sensitive_name", "redact_headers", "redact_json", "redact_text", "redact_url"]

MASK = "***"

# Compared after lower-casing and dropping "_", "-" and spaces, so "Refresh-Token" and "refresh_token"
# are one name.
_SENSITIVE_NAMES = frozenset(
    {
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "xsession",
        "session",
        "apikey",
        "xapikey",
        "key",
        "token",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "clientsecret",
        "secret",
        "password",
        "passwd",
        "signature",
        "xpaymosignature",
        "bearer",
        "privatekey",
    }
)
_SENSITIVE_SUFFIXES = ("token", "secret", "password", "apikey")
# Only in URLs: an OAuth authorization code in a callback. In JSON, "code" is a fault or project code.
_SENSITIVE_QUERY_NAMES = frozenset({"code"})
# QBO's optimistic-concurrency counter ends in "token" but is public and the sync needs it.
_PUBLIC_NAMES = frozenset({"synctoken"})

_CREDENTIAL_IN_TEXT = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"https?://[^\s'\"<>]+")


def _normalize(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def is_sensitive_name(name: str) -> bool:
    """True when a header, query parameter or JSON key of this name holds a credential."""
    normalized = _normalize(name)
    if normalized in _PUBLIC_NAMES:
        return False
    return normalized in _SENSITIVE_NAMES or normalized.endswith(_SENSITIVE_SUFFIXES)


def _is_sensitive_query(name: str) -> bool:
    return is_sensitive_name(name) or _normalize(name) in _SENSITIVE_QUERY_NAMES


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]] | httpx.Headers) -> dict[str, str]:
    """A copy of ``headers`` with every credential-bearing value replaced by ``***``."""
    items = (
        headers.multi_items()
        if isinstance(headers, httpx.Headers)
        else (headers.items() if isinstance(headers, Mapping) else headers)
    )
    return {name: (MASK if is_sensitive_name(name) else value) for name, value in items}


def redact_url(url: str | httpx.URL) -> str:
    """``url`` with user-info and sensitive query values masked; other parameters stay readable."""
    parts: SplitResult = urlsplit(str(url))
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = "&".join(
            f"{quote(name, safe='')}={MASK if _is_sensitive_query(name) else quote(value, safe='')}"
            for name, value in pairs
        )
    else:
        query = ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Free text (an exception message, a log line) with bearer/basic credentials and URL secrets masked."""
    masked = _CREDENTIAL_IN_TEXT.sub(lambda match: f"{match.group(1)} {MASK}", text)
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), masked)


def redact_json(value: Any) -> Any:
    """A deep copy of a JSON-like value with sensitive keys masked and URLs in strings redacted."""
    if isinstance(value, Mapping):
        return {
            key: (MASK if isinstance(key, str) and is_sensitive_name(key) else redact_json(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_json(item) for item in value]
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return redact_url(value)
    return value
