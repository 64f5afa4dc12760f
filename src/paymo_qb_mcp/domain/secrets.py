"""The one list of what a secret looks like — header, query and JSON names, shapes in free text — and the
pure masking that both redactors (`net.redact` at the HTTP edge, the store's for audit and approvals) apply.

A value is masked when its *name* says it is a credential (``access_token``, ``X-Api-Key``,
``Authorization``, ...), when its *shape* is one (``Bearer …``/``Basic …``, a JWT or JWE, an Intuit
refresh token, the user-info or a secret parameter of a URL), or when it is a *known* secret value (the
configured Paymo key, QBO token, client secret, HTTP bearer token) wherever it appears.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Set
from typing import Any, Final
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "KnownSecrets",
    "is_secret_name",
    "is_secret_query_name",
    "normalize_name",
    "redact_json",
    "redact_text",
    "redact_url",
]

MASK: Final = "***"

# Compared after `normalize_name`, so "Refresh-Token", "refresh_token" and "refreshToken" are one name.
_SECRET_NAMES: Final = frozenset(
    {
        "auth",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "session",
        "sessionid",
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
        "xpaymosignature",
        "bearer",
        "privatekey",
        "credentials",
    }
)
_SECRET_SUFFIXES: Final = ("token", "secret", "password", "passwd", "apikey", "credentials", "signature")
_SECRET_PREFIXES: Final = ("refresh", "authorization")
# QBO's optimistic-concurrency counter ends in "token" but is public, and the sync and the audit trail
# need it to follow updates.
_PUBLIC_NAMES: Final = frozenset({"synctoken"})
# Only in URLs: an OAuth authorization code in a callback. In JSON and text "code" is a fault or
# project code.
_SECRET_QUERY_NAMES: Final = frozenset({"code"})

_CREDENTIAL_SCHEMES: Final = frozenset({"bearer", "basic"})
_CREDENTIAL_IN_TEXT: Final = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# A JWT (three segments) or a compact JWE (five; the second is empty for `dir` keys, as in Intuit's
# access tokens): every segment base64url, the header always starting `eyJ` ('{"').
_JWT_IN_TEXT: Final = re.compile(
    r"\beyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]*+\.[A-Za-z0-9_-]{8,}+(?:\.[A-Za-z0-9_-]++){0,2}"
)
# GUESS: Intuit's refresh tokens are documented only as "AB11..."; observed ones are AB1 + a digit and
# about fifty letters and digits, a shape no id, hash or document number of either service has.
_INTUIT_REFRESH_TOKEN_IN_TEXT: Final = re.compile(r"\bAB1[0-9][A-Za-z0-9]{30,}+\b")
_URL_IN_TEXT: Final = re.compile(r"https?://[^\s'\"<>]+", re.IGNORECASE)
# `name=value`, `name: value`, `"name": "value"` in free text (an error body quoted in a message, a
# header dump); the value is masked when the name is a secret's.
# Linear in the text's length: a name starts only where no name character precedes it, and neither it
# nor the spaces around the separator are ever given back (possessive quantifiers), so a long run of
# letters is scanned once, not once per starting position (which took seconds for 20,000 characters).
_NAMED_VALUE_IN_TEXT: Final = re.compile(
    r"""(?<![A-Za-z0-9_.-])(?P<name>[A-Za-z][A-Za-z0-9_.-]*+)(?P<close>["']?)"""
    r"""(?P<separator>\s*+[:=]\s*+)(?P<open>["']?)(?P<value>[^\s"'&,;<>(){}\[\]]++)"""
)
_USERINFO_IN_URL: Final = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]*@")
# Shorter known values would mask ordinary words; real keys and tokens are far longer.
_MIN_KNOWN_SECRET_LENGTH: Final = 8


def normalize_name(name: str) -> str:
    """``name`` lower-cased without ``_``, ``-``, ``.`` and spaces: the form every name list here uses."""
    return re.sub(r"[\s_.\-]", "", name).lower()


def is_secret_name(name: str) -> bool:
    """True when a header, query parameter or JSON key of this name holds a credential."""
    normalized = normalize_name(name)
    if normalized in _PUBLIC_NAMES:
        return False
    return (
        normalized in _SECRET_NAMES
        or normalized.endswith(_SECRET_SUFFIXES)
        or normalized.startswith(_SECRET_PREFIXES)
    )


def is_secret_query_name(name: str) -> bool:
    """True when a URL query (or fragment) parameter of this name holds a credential."""
    return is_secret_name(name) or normalize_name(name) in _SECRET_QUERY_NAMES


class KnownSecrets:
    """Configured secret values, masked wherever they appear, longest first (so one that contains
    another is masked whole) and whatever their case (a value upper-cased on its way, as an approval id
    is, is still the secret). Values shorter than eight characters are ignored: no real key is that
    short, and masking them would eat ordinary words."""

    __slots__ = ("_pattern", "_values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: tuple[str, ...] = tuple(
            sorted(
                {value for value in values if len(value) >= _MIN_KNOWN_SECRET_LENGTH}, key=len, reverse=True
            )
        )
        self._pattern: re.Pattern[str] | None = (
            re.compile("|".join(re.escape(value) for value in self._values), re.IGNORECASE)
            if self._values
            else None
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"KnownSecrets(<{len(self._values)} values>)"

    def mask(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(MASK, text)

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds one of the values, in any case."""
        return self._pattern is not None and self._pattern.search(text) is not None


_NO_KNOWN_SECRETS: Final = KnownSecrets()


def _known(known_secrets: KnownSecrets | Iterable[str]) -> KnownSecrets:
    return known_secrets if isinstance(known_secrets, KnownSecrets) else KnownSecrets(known_secrets)


def _redact_parameters(parameters: str) -> str:
    """`a=1&token=x` → `a=1&token=***`; every other parameter is kept byte for byte."""
    pieces = []
    for piece in parameters.split("&"):
        name, equals, _value = piece.partition("=")
        if equals and is_secret_query_name(unquote_plus(name)):
            piece = f"{name}={MASK}"
        pieces.append(piece)
    return "&".join(pieces)


def redact_url(url: str) -> str:
    """``url`` with its user-info and secret query/fragment values masked; the rest stays as it was."""
    try:
        parts: SplitResult = urlsplit(url)
    except ValueError:
        # Not parseable as a URL (a stray bracket): mask the user-info and leave the rest to
        # `redact_text`'s name=value pass.
        return _USERINFO_IN_URL.sub(lambda match: f"{match.group('scheme')}{MASK}@", url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = _redact_parameters(parts.query) if parts.query else ""
    # An implicit-grant redirect carries its token in the fragment.
    fragment = _redact_parameters(parts.fragment) if "=" in parts.fragment else parts.fragment
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _mask_named_value(match: re.Match[str]) -> str:
    value = match.group("value")
    if not is_secret_name(match.group("name")) or value == MASK:
        return match.group(0)
    if value.lower() in _CREDENTIAL_SCHEMES:
        # "Authorization: Bearer <token>": the scheme stays, the credential after it is masked apart.
        return match.group(0)
    return match.group(0)[: match.start("value") - match.start(0)] + MASK


def redact_text(text: str, known_secrets: KnownSecrets | Iterable[str] = _NO_KNOWN_SECRETS) -> str:
    """Free text (an exception message, a log line, an upstream error body) with every secret masked:
    known values, bearer/basic credentials, JWTs and Intuit refresh tokens, URL user-info and secret
    parameters, and values written after a secret's name (``client_secret=…``, ``"token": "…"``)."""
    text = _known(known_secrets).mask(text)
    text = _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
    text = _CREDENTIAL_IN_TEXT.sub(lambda match: f"{match.group(1)} {MASK}", text)
    text = _JWT_IN_TEXT.sub(MASK, text)
    text = _INTUIT_REFRESH_TOKEN_IN_TEXT.sub(MASK, text)
    return _NAMED_VALUE_IN_TEXT.sub(_mask_named_value, text)


def redact_json(value: Any, known_secrets: KnownSecrets | Iterable[str] = _NO_KNOWN_SECRETS) -> Any:
    """A deep copy of a JSON-like value: values under secret names masked, every string (keys too)
    through `redact_text`. Tuples become lists; sets become lists sorted by ``repr``, so the same set
    always redacts (and hashes, in the audit log) the same way."""
    known = _known(known_secrets)
    if isinstance(value, Mapping):
        return {
            (redact_text(key, known) if isinstance(key, str) else key): (
                MASK if isinstance(key, str) and is_secret_name(key) else redact_json(item, known)
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_json(item, known) for item in value]
    if isinstance(value, Set):
        return [redact_json(item, known) for item in sorted(value, key=repr)]
    if isinstance(value, str):
        return redact_text(value, known)
    return value
