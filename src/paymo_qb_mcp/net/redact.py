"""Redaction at the HTTP edge: headers, URLs (``httpx.URL`` too), free text and JSON, masked by the one list
of secret names and shapes in `paymo_qb_mcp.domain.secrets`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from paymo_qb_mcp.domain import secrets
from paymo_qb_mcp.domain.secrets import MASK, KnownSecrets

if TYPE_CHECKING:
    # Only for annotations: the log filter below is installed at start-up, before anything needs httpx.
    import httpx

__all__ = [
    "MASK",
    "RedactingFilter",
    "is_sensitive_name",
    "redact_headers",
    "redact_json",
    "redact_text",
    "redact_url",
]


def is_sensitive_name(name: str) -> bool:
    """True when a header, query parameter or JSON key of this name holds a credential."""
    return secrets.is_secret_name(name)


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]] | httpx.Headers) -> dict[str, str]:
    """A copy of ``headers`` with every credential-bearing value replaced by ``***``.

    Other values go through `redact_text`, so a ``Location`` with a token in its query is masked too.
    """
    import httpx  # already loaded by whoever holds httpx headers

    items = (
        headers.multi_items()
        if isinstance(headers, httpx.Headers)
        else (headers.items() if isinstance(headers, Mapping) else headers)
    )
    return {
        name: (MASK if secrets.is_secret_name(name) else secrets.redact_text(value)) for name, value in items
    }


def redact_url(url: str | httpx.URL) -> str:
    """``url`` with user-info and secret query values masked; other parameters stay as they were."""
    # str(httpx.URL) keeps the password (only its repr hides it), so the user-info is masked here.
    return secrets.redact_url(str(url))


def redact_text(text: str, known_secrets: KnownSecrets | Iterable[str] = ()) -> str:
    """Free text (an exception message, a log line, an error body) with every secret masked, including
    ``known_secrets`` (the caller's own credentials) wherever they appear."""
    return secrets.redact_text(text, known_secrets)


def redact_json(value: Any) -> Any:
    """A deep copy of a JSON-like value with values under secret names masked and every string redacted."""
    return secrets.redact_json(value)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record it passes: the message with its arguments
    filled in, and any traceback. Attach it to a handler (it then sees every logger's records) or to a
    logger that prints what it should not, such as httpx, which logs each request URL in full."""

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._known = KnownSecrets(known_secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = secrets.redact_text(message, self._known)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Rendered now, so the handler's formatter prints this redacted text and not its own.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = secrets.redact_text(record.exc_text, self._known)
        if record.stack_info:
            record.stack_info = secrets.redact_text(record.stack_info, self._known)
        return True
