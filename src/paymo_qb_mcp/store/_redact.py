"""Redaction of what the store writes (approval arguments, audit events): secret keys and known values.

The key vocabulary matches `paymo_qb_mcp.net.redact`, which the store may not import (sibling
layers); a second, value-based pass removes any configured secret wherever it appears, so a token
pasted into a free-text argument is caught too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set
from typing import Any, Final

__all__ = ["MASK", "Redactor", "is_secret_key"]

MASK: Final = "***"

# Compared after lower-casing and dropping "_", "-" and spaces.
_SECRET_NAMES: Final = frozenset(
    {
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "session",
        "xsession",
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
        "bearer",
        "privatekey",
        "credentials",
    }
)
_SECRET_SUFFIXES: Final = ("token", "secret", "password", "apikey", "credentials")
_SECRET_PREFIXES: Final = ("refresh", "authorization")
# QBO's optimistic-concurrency counter is public and the audit trail needs it.
_PUBLIC_NAMES: Final = frozenset({"synctoken"})

_CREDENTIAL_IN_TEXT: Final = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_JWT_IN_TEXT: Final = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
# Shorter known values would mask ordinary words; real keys and tokens are far longer.
_MIN_KNOWN_SECRET_LENGTH: Final = 8


def _normalize(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def is_secret_key(name: str) -> bool:
    """True when a mapping key of this name holds a credential (token, secret, password, api key, ...)."""
    normalized = _normalize(name)
    if normalized in _PUBLIC_NAMES:
        return False
    return (
        normalized in _SECRET_NAMES
        or normalized.endswith(_SECRET_SUFFIXES)
        or normalized.startswith(_SECRET_PREFIXES)
    )


class Redactor:
    """Deep-copies JSON-like values with secrets masked by key name, credential shape and known value."""

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._known = sorted(
            {secret for secret in known_secrets if len(secret) >= _MIN_KNOWN_SECRET_LENGTH},
            key=len,
            reverse=True,
        )

    def text(self, value: str) -> str:
        for secret in self._known:
            value = value.replace(secret, MASK)
        value = _CREDENTIAL_IN_TEXT.sub(lambda match: f"{match.group(1)} {MASK}", value)
        return _JWT_IN_TEXT.sub(MASK, value)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                (self.text(key) if isinstance(key, str) else key): (
                    MASK if isinstance(key, str) and is_secret_key(key) else self(item)
                )
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self(item) for item in value]
        if isinstance(value, Set):
            # Sorted so the same set always redacts (and hashes, in the audit log) the same way.
            return [self(item) for item in sorted(value, key=repr)]
        if isinstance(value, str):
            return self.text(value)
        return value
