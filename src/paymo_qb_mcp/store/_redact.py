"""Redaction of what the store writes (approval arguments, audit events): the secret names and shapes of
`paymo_qb_mcp.domain.secrets`, plus the configured secret values wherever they appear.

The value pass is what catches a token pasted into a free-text argument, or a key an upstream service
echoed into an error message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from paymo_qb_mcp.domain.secrets import MASK, KnownSecrets, redact_json, redact_text
from paymo_qb_mcp.domain.secrets import is_secret_name as is_secret_key

__all__ = ["MASK", "Redactor", "is_secret_key"]


class Redactor:
    """Deep-copies JSON-like values with secrets masked by name, by shape and by known value."""

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        self._known = KnownSecrets(known_secrets)

    def __repr__(self) -> str:
        return f"Redactor({self._known!r})"

    def text(self, value: str) -> str:
        return redact_text(value, self._known)

    def __call__(self, value: Any) -> Any:
        return redact_json(value, self._known)
