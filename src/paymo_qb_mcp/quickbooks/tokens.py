"""Where the QBO client gets its bearer token: the ``TokenProvider`` protocol and a static provider.

The OAuth module implements the protocol with refresh and rotation; the client only asks for the
current token and, after a 401, asks once for a fresh one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import SecretStr

from paymo_qb_mcp.errors import ConfigError

__all__ = ["StaticTokenProvider", "TokenProvider"]


@runtime_checkable
class TokenProvider(Protocol):
    """Supplies OAuth 2.0 access tokens for one QBO realm."""

    async def access_token(self) -> str:
        """The access token to send now (refreshing ahead of expiry is the provider's business)."""
        ...

    async def refresh_after_unauthorized(self, rejected_token: str) -> str | None:
        """QBO answered 401 to ``rejected_token``: return a new token, or None if none can be had.

        ``rejected_token`` lets a provider shared by concurrent requests refresh once: if the token
        it holds is already newer than the rejected one, it returns that instead of refreshing again.
        """
        ...


class StaticTokenProvider:
    """A fixed access token (tests, the sandbox, ``QBO_ACCESS_TOKEN``); it cannot refresh."""

    def __init__(self, token: str | SecretStr) -> None:
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        if not secret.get_secret_value():
            raise ConfigError(
                "the QuickBooks access token is empty; "
                "set QBO_ACCESS_TOKEN or run `paymo-qb-mcp auth quickbooks`"
            )
        self._token = secret

    def __repr__(self) -> str:
        return "StaticTokenProvider(token=SecretStr('**********'))"

    async def access_token(self) -> str:
        return self._token.get_secret_value()

    async def refresh_after_unauthorized(self, rejected_token: str) -> str | None:
        return None
