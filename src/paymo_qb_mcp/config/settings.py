"""Settings: one object from environment variables and an optional `.env` file; errors name the variable.

Sources, highest priority first:

1. environment variables (`PAYMO_API_KEY`, `QBO_REALM_ID`, ... — the names below);
2. the file named by `PAYMO_QB_CONFIG`, in `.env` format (`NAME=value` lines, `#` comments, the same
   names as the environment variables; an unknown name in it is an error, so a typo is caught);
3. the defaults.

Empty values count as unset. Secrets are `SecretStr`: they never appear in `repr`, `str` or logs; call
`.get_secret_value()` only at the edge that sends them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paymo_qb_mcp.domain.secrets import redact_url
from paymo_qb_mcp.errors import ConfigError

__all__ = [
    "CONFIG_FILE_VARIABLE",
    "ENVIRONMENT_VARIABLES",
    "QBO_HOSTS",
    "PaymoAccess",
    "QboAccess",
    "QboOAuthClient",
    "Settings",
    "default_data_dir",
    "load_settings",
    "shipped_policy_path",
]

CONFIG_FILE_VARIABLE: Final = "PAYMO_QB_CONFIG"
POLICY_FILE_NAME: Final = "policies.yaml"

QboEnvironment = Literal["production", "sandbox"]
TokenStoreKind = Literal["auto", "keyring", "file"]

QBO_HOSTS: Final[dict[str, str]] = {
    "production": "https://quickbooks.api.intuit.com",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
}

# What to tell the human for each variable when its value is refused.
_HINTS: Final[dict[str, str]] = {
    "PAYMO_API_KEY": "create one in Paymo under My Account → API keys",
    "PAYMO_BASE_URL": "use the API root, e.g. https://app.paymoapp.com/api",
    "QBO_REALM_ID": "use the company id QuickBooks shows after `paymo-qb-mcp auth quickbooks`",
    "QBO_ENVIRONMENT": "use production or sandbox",
    "QBO_BASE_URL": "use the host part before /v3, e.g. https://sandbox-quickbooks.api.intuit.com",
    "QBO_REDIRECT_URI": "use the redirect URI registered for your Intuit app",
    "PAYMO_QB_TOKEN_STORE": "use auto, keyring or file",
    "PAYMO_QB_DATA_DIR": "use a directory this user can write",
    "PAYMO_QB_POLICY": "point it at a policies.yaml file, or unset it to use the default",
}


def default_data_dir() -> Path:
    """The per-user data directory (e.g. ~/.local/share/paymo-qb-mcp on Linux)."""
    return Path(platformdirs.user_data_dir("paymo-qb-mcp", appauthor=False))


def shipped_policy_path() -> Path:
    """The commented default policies.yaml that ships with the package."""
    # Wheels carry the repository's root policies.yaml inside this package (pyproject force-include);
    # an editable or source checkout reads the root file itself, so there is one copy to maintain.
    packaged = Path(__file__).with_name(POLICY_FILE_NAME)
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / POLICY_FILE_NAME


def _http_url(variable: str, value: str) -> str:
    stripped = value.strip().rstrip("/")
    # Messages quote the value redacted: a URL may carry a key before the @ or in its query.
    if not stripped.startswith(("https://", "http://")) or len(stripped.split("://", 1)[1]) == 0:
        raise ValueError(f"{variable} must be an http(s) URL, got {redact_url(value)!r}")
    if "@" in urlsplit(stripped).netloc:
        # httpx logs every request URL in full, user-info included; credentials have their own variables.
        raise ValueError(
            f"{variable} must not carry credentials (user:password@), got {redact_url(value)!r}; "
            "set the key or token in its own variable instead"
        )
    return stripped


@dataclass(frozen=True)
class PaymoAccess:
    """What a Paymo client needs; returned by `Settings.require_paymo()`."""

    base_url: str
    api_key: SecretStr


@dataclass(frozen=True)
class QboAccess:
    """What a QuickBooks client needs; returned by `Settings.require_qbo()`."""

    base_url: str
    realm_id: str
    environment: QboEnvironment
    access_token: SecretStr | None


@dataclass(frozen=True)
class QboOAuthClient:
    """The Intuit app credentials for the OAuth flow; returned by `Settings.require_qbo_oauth_client()`."""

    client_id: str
    client_secret: SecretStr
    redirect_uri: str
    environment: QboEnvironment


class Settings(BaseSettings):
    """Every setting of paymo-qb-mcp. Build it with `load_settings()` so errors become `ConfigError`."""

    model_config = SettingsConfigDict(
        extra="forbid",
        env_ignore_empty=True,
        case_sensitive=True,
        env_file_encoding="utf-8",
        frozen=True,
        hide_input_in_errors=True,
    )

    paymo_api_key: SecretStr | None = Field(default=None, validation_alias="PAYMO_API_KEY")
    paymo_base_url: str = Field(default="https://app.paymoapp.com/api", validation_alias="PAYMO_BASE_URL")
    qbo_realm_id: str | None = Field(default=None, validation_alias="QBO_REALM_ID")
    qbo_environment: QboEnvironment = Field(default="production", validation_alias="QBO_ENVIRONMENT")
    qbo_base_url_override: str | None = Field(default=None, validation_alias="QBO_BASE_URL")
    qbo_access_token: SecretStr | None = Field(default=None, validation_alias="QBO_ACCESS_TOKEN")
    qbo_client_id: str | None = Field(default=None, validation_alias="QBO_CLIENT_ID")
    qbo_client_secret: SecretStr | None = Field(default=None, validation_alias="QBO_CLIENT_SECRET")
    qbo_redirect_uri: str = Field(
        default="http://localhost:8765/callback", validation_alias="QBO_REDIRECT_URI"
    )
    token_store: TokenStoreKind = Field(default="auto", validation_alias="PAYMO_QB_TOKEN_STORE")
    data_dir: Path = Field(default_factory=default_data_dir, validation_alias="PAYMO_QB_DATA_DIR")
    policy_file: Path | None = Field(default=None, validation_alias="PAYMO_QB_POLICY")
    http_token: SecretStr | None = Field(default=None, validation_alias="PAYMO_QB_HTTP_TOKEN")
    # How old the company data (customers, items, tax codes, Paymo clients, ...) may be before a plan
    # catches it up; new decisions (a link, a create) always catch up first.
    cache_refresh_seconds: float = Field(
        default=2.0, ge=0.0, le=3600.0, validation_alias="PAYMO_QB_CACHE_REFRESH_SECONDS"
    )

    @field_validator("qbo_environment", "token_store", mode="before")
    @classmethod
    def _lowercase_choice(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("paymo_base_url")
    @classmethod
    def _paymo_url(cls, value: str) -> str:
        return _http_url("PAYMO_BASE_URL", value)

    @field_validator("qbo_base_url_override")
    @classmethod
    def _qbo_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = _http_url("QBO_BASE_URL", value)
        if "/v3" in url:
            raise ValueError(f"QBO_BASE_URL must stop before /v3/company/..., got {redact_url(value)!r}")
        return url

    @field_validator("qbo_redirect_uri")
    @classmethod
    def _redirect(cls, value: str) -> str:
        return _http_url("QBO_REDIRECT_URI", value)

    @field_validator("qbo_realm_id")
    @classmethod
    def _realm(cls, value: str | None) -> str | None:
        if value is None:
            return None
        realm = value.strip()
        # GUESS: Intuit documents realm ids as opaque numeric strings, but the emulator is free to choose
        # its own, so we only refuse what would break the URL path rather than insisting on digits.
        if not realm or any(ch.isspace() or ch in "/?#" for ch in realm):
            raise ValueError(f"QBO_REALM_ID must be the company id without spaces or slashes, got {value!r}")
        return realm

    @field_validator("data_dir", "policy_file")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def qbo_base_url(self) -> str:
        """The QuickBooks host the client talks to: QBO_BASE_URL if set, else the environment's host."""
        return self.qbo_base_url_override or QBO_HOSTS[self.qbo_environment]

    def ensure_data_dir(self) -> Path:
        """Create the data directory (private to this user) if needed and return it."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(
                f"PAYMO_QB_DATA_DIR {str(self.data_dir)!r} cannot be created ({exc.strerror}); "
                f"{_HINTS['PAYMO_QB_DATA_DIR']}"
            ) from exc
        return self.data_dir

    def policy_path(self) -> Path:
        """PAYMO_QB_POLICY if set, else the data directory's policies.yaml if any, else the shipped one."""
        if self.policy_file is not None:
            if not self.policy_file.is_file():
                raise ConfigError(
                    f"PAYMO_QB_POLICY points at {str(self.policy_file)!r}, which is not a file; "
                    f"{_HINTS['PAYMO_QB_POLICY']}"
                )
            return self.policy_file
        in_data_dir = self.data_dir / POLICY_FILE_NAME
        if in_data_dir.is_file():
            return in_data_dir
        return shipped_policy_path()

    def require_paymo(self) -> PaymoAccess:
        """The Paymo credentials, or a ConfigError saying which variable to set."""
        if self.paymo_api_key is None:
            raise ConfigError(f"PAYMO_API_KEY is not set; {_HINTS['PAYMO_API_KEY']} and export it")
        return PaymoAccess(base_url=self.paymo_base_url, api_key=self.paymo_api_key)

    def require_qbo(self, *, need_access_token: bool = False) -> QboAccess:
        """The QuickBooks company to talk to, or a ConfigError saying which variable to set.

        Without `need_access_token` the token may come from the OAuth token store instead of
        QBO_ACCESS_TOKEN, so only the realm is required here.
        """
        if self.qbo_realm_id is None:
            raise ConfigError(f"QBO_REALM_ID is not set; {_HINTS['QBO_REALM_ID']}")
        if need_access_token and self.qbo_access_token is None:
            raise ConfigError(
                "QBO_ACCESS_TOKEN is not set; export an access token, or run "
                "`paymo-qb-mcp auth quickbooks` to store one"
            )
        return QboAccess(
            base_url=self.qbo_base_url,
            realm_id=self.qbo_realm_id,
            environment=self.qbo_environment,
            access_token=self.qbo_access_token,
        )

    def require_qbo_oauth_client(self) -> QboOAuthClient:
        """The Intuit app's client id and secret, or a ConfigError naming the missing one."""
        client_id, client_secret = self.qbo_client_id, self.qbo_client_secret
        if client_id is None or client_secret is None:
            missing = [
                name
                for name, value in (("QBO_CLIENT_ID", client_id), ("QBO_CLIENT_SECRET", client_secret))
                if value is None
            ]
            raise ConfigError(
                f"{' and '.join(missing)} must be set; copy it from your app's Keys & credentials page "
                "on developer.intuit.com"
            )
        return QboOAuthClient(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=self.qbo_redirect_uri,
            environment=self.qbo_environment,
        )

    def require_http_token(self) -> SecretStr:
        """The bearer token the HTTP transport demands, or a ConfigError."""
        if self.http_token is None:
            raise ConfigError(
                "PAYMO_QB_HTTP_TOKEN is not set; the HTTP transport needs a bearer token "
                "(e.g. `export PAYMO_QB_HTTP_TOKEN=$(openssl rand -hex 32)`)"
            )
        return self.http_token

    def secret_values(self) -> tuple[str, ...]:
        """Every configured secret, for redaction passes that scrub known values (audit log, errors)."""
        secrets = (self.paymo_api_key, self.qbo_access_token, self.qbo_client_secret, self.http_token)
        return tuple(secret.get_secret_value() for secret in secrets if secret is not None)


def _describe(error: Any) -> str:
    location = error.get("loc") or ()
    variable = str(location[0]).upper() if location else "settings"
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return f"{variable} is not a setting of paymo-qb-mcp (check the spelling in {CONFIG_FILE_VARIABLE})"
    if kind == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", "")).replace("'", "")
        got = error.get("input")
        return f"{variable} must be {expected}, got {got!r}"
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    if message.startswith(variable):
        return message
    hint = _HINTS.get(variable)
    return f"{variable}: {message}" + (f"; {hint}" if hint else "")


# Every variable paymo-qb-mcp reads, e.g. for tests and `doctor` to clear or list them.
ENVIRONMENT_VARIABLES: Final[tuple[str, ...]] = (
    *(str(info.validation_alias) for info in Settings.model_fields.values()),
    CONFIG_FILE_VARIABLE,
)


def load_settings() -> Settings:
    """Read the settings from the environment and the optional PAYMO_QB_CONFIG file.

    Raises ConfigError naming every refused variable and what to do about it.
    """
    config_file = os.environ.get(CONFIG_FILE_VARIABLE, "").strip()
    env_file: Path | None = None
    if config_file:
        env_file = Path(config_file).expanduser()
        if not env_file.is_file():
            raise ConfigError(
                f"{CONFIG_FILE_VARIABLE} points at {config_file!r}, which is not a file; "
                "create it (NAME=value lines) or unset the variable"
            )
    try:
        return Settings(_env_file=env_file)
    except ValidationError as exc:
        # The literal error keeps the input for the message; secrets are never literals, and
        # hide_input_in_errors keeps them out of pydantic's own text.
        problems = [_describe(error) for error in exc.errors(include_url=False)]
        raise ConfigError("; ".join(problems)) from None
