"""Settings: defaults, the derived QBO host, the optional .env file, and errors that name the variable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from paymo_qb_mcp.config.settings import (
    ENVIRONMENT_VARIABLES,
    QBO_HOSTS,
    Settings,
    load_settings,
    shipped_policy_path,
)
from paymo_qb_mcp.errors import ConfigError

FAKE_KEY = "paymo-key-4f0c1e9d8b7a"
FAKE_TOKEN = "eyJhbGciOi.fake-access-token.9f8e7d6c"
FAKE_SECRET = "client-secret-1a2b3c4d5e"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def test_every_documented_variable_is_known() -> None:
    assert set(ENVIRONMENT_VARIABLES) == {
        "PAYMO_API_KEY",
        "PAYMO_BASE_URL",
        "QBO_REALM_ID",
        "QBO_ENVIRONMENT",
        "QBO_BASE_URL",
        "QBO_ACCESS_TOKEN",
        "QBO_CLIENT_ID",
        "QBO_CLIENT_SECRET",
        "QBO_REDIRECT_URI",
        "PAYMO_QB_TOKEN_STORE",
        "PAYMO_QB_DATA_DIR",
        "PAYMO_QB_POLICY",
        "PAYMO_QB_HTTP_TOKEN",
        "PAYMO_QB_CACHE_REFRESH_SECONDS",
        "PAYMO_QB_CONFIG",
    }


def test_defaults_follow_the_documented_values(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.paymo_base_url == "https://app.paymoapp.com/api"
    assert settings.qbo_environment == "production"
    assert settings.qbo_base_url == "https://quickbooks.api.intuit.com"
    assert settings.qbo_redirect_uri == "http://localhost:8765/callback"
    assert settings.token_store == "auto"
    assert settings.data_dir == tmp_path / "xdg" / "paymo-qb-mcp"
    assert settings.paymo_api_key is None
    assert settings.policy_path() == shipped_policy_path()
    assert settings.cache_refresh_seconds == 2.0


def test_sandbox_environment_selects_the_sandbox_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "Sandbox")
    settings = load_settings()
    assert settings.qbo_environment == "sandbox"
    assert settings.qbo_base_url == QBO_HOSTS["sandbox"] == "https://sandbox-quickbooks.api.intuit.com"


def test_qbo_base_url_overrides_the_environment_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "sandbox")
    monkeypatch.setenv("QBO_BASE_URL", "http://127.0.0.1:8081/")
    assert load_settings().qbo_base_url == "http://127.0.0.1:8081"


def test_empty_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "")
    monkeypatch.setenv("PAYMO_API_KEY", "")
    settings = load_settings()
    assert settings.qbo_environment == "production"
    assert settings.paymo_api_key is None


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("QBO_ENVIRONMENT", "prod", "QBO_ENVIRONMENT must be production or sandbox, got 'prod'"),
        ("PAYMO_QB_TOKEN_STORE", "vault", "PAYMO_QB_TOKEN_STORE must be auto, keyring or file, got 'vault'"),
        ("PAYMO_BASE_URL", "app.paymoapp.com/api", "PAYMO_BASE_URL must be an http(s) URL"),
        ("QBO_BASE_URL", "https://sandbox-quickbooks.api.intuit.com/v3/company/1", "QBO_BASE_URL must stop"),
        ("QBO_REDIRECT_URI", "localhost:8765", "QBO_REDIRECT_URI must be an http(s) URL"),
        ("QBO_REALM_ID", "123 456", "QBO_REALM_ID must be the company id"),
    ],
)
def test_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert expected in str(caught.value)
    assert caught.value.code == "CONFIG"


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "prod")
    monkeypatch.setenv("PAYMO_QB_TOKEN_STORE", "vault")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "QBO_ENVIRONMENT" in message
    assert "PAYMO_QB_TOKEN_STORE" in message


def test_secrets_never_appear_in_repr_str_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMO_API_KEY", FAKE_KEY)
    monkeypatch.setenv("QBO_ACCESS_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("QBO_CLIENT_SECRET", FAKE_SECRET)
    monkeypatch.setenv("QBO_CLIENT_ID", "ABclientid")
    monkeypatch.setenv("QBO_REALM_ID", "9341453050298541")
    monkeypatch.setenv("PAYMO_QB_HTTP_TOKEN", FAKE_TOKEN + "-http")
    settings = load_settings()
    renderings = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        repr(settings.require_paymo()),
        repr(settings.require_qbo(need_access_token=True)),
        repr(settings.require_qbo_oauth_client()),
        repr(settings.require_http_token()),
    ]
    for text in renderings:
        for secret in (FAKE_KEY, FAKE_TOKEN, FAKE_SECRET):
            assert secret not in text
    assert settings.require_paymo().api_key.get_secret_value() == FAKE_KEY
    assert set(settings.secret_values()) == {FAKE_KEY, FAKE_TOKEN, FAKE_SECRET, FAKE_TOKEN + "-http"}


def test_a_refused_value_is_not_echoed_when_it_could_be_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    # A URL is echoed to help fix it; a secret never fails validation, so it never reaches a message.
    monkeypatch.setenv("PAYMO_API_KEY", FAKE_KEY)
    monkeypatch.setenv("QBO_ENVIRONMENT", "prod")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert FAKE_KEY not in str(caught.value)


def test_require_checks_name_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    with pytest.raises(ConfigError, match="PAYMO_API_KEY is not set"):
        settings.require_paymo()
    with pytest.raises(ConfigError, match="QBO_REALM_ID is not set"):
        settings.require_qbo()
    with pytest.raises(ConfigError, match="QBO_CLIENT_ID and QBO_CLIENT_SECRET must be set"):
        settings.require_qbo_oauth_client()
    with pytest.raises(ConfigError, match="PAYMO_QB_HTTP_TOKEN is not set"):
        settings.require_http_token()

    monkeypatch.setenv("QBO_REALM_ID", "4620816365178219510")
    settings = load_settings()
    access = settings.require_qbo()
    assert access.realm_id == "4620816365178219510"
    assert access.access_token is None
    with pytest.raises(ConfigError, match="QBO_ACCESS_TOKEN is not set"):
        settings.require_qbo(need_access_token=True)


def test_config_file_supplies_values_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "paymo-qb.env"
    config.write_text(
        f"# local settings\nPAYMO_API_KEY={FAKE_KEY}\nQBO_ENVIRONMENT=sandbox\nQBO_REALM_ID=1234567890\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PAYMO_QB_CONFIG", str(config))
    monkeypatch.setenv("QBO_REALM_ID", "999")
    settings = load_settings()
    assert settings.require_paymo().api_key.get_secret_value() == FAKE_KEY
    assert settings.qbo_base_url == "https://sandbox-quickbooks.api.intuit.com"
    assert settings.qbo_realm_id == "999"


def test_unknown_name_in_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "paymo-qb.env"
    config.write_text("QBO_ENVIROMENT=sandbox\n", encoding="utf-8")
    monkeypatch.setenv("PAYMO_QB_CONFIG", str(config))
    with pytest.raises(ConfigError, match="QBO_ENVIROMENT is not a setting of paymo-qb-mcp"):
        load_settings()


def test_missing_config_file_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAYMO_QB_CONFIG", str(tmp_path / "absent.env"))
    with pytest.raises(ConfigError, match="PAYMO_QB_CONFIG points at"):
        load_settings()


def test_policy_path_prefers_explicit_then_data_dir_then_shipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(data_dir))
    assert load_settings().policy_path() == shipped_policy_path()

    data_dir.mkdir()
    (data_dir / "policies.yaml").write_text("version: 1\n", encoding="utf-8")
    assert load_settings().policy_path() == data_dir / "policies.yaml"

    explicit = tmp_path / "mine.yaml"
    explicit.write_text("version: 1\n", encoding="utf-8")
    monkeypatch.setenv("PAYMO_QB_POLICY", str(explicit))
    assert load_settings().policy_path() == explicit

    monkeypatch.setenv("PAYMO_QB_POLICY", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="PAYMO_QB_POLICY points at"):
        load_settings().policy_path()


def test_shipped_policy_file_exists() -> None:
    assert shipped_policy_path().is_file()
    assert shipped_policy_path().name == "policies.yaml"


def test_data_dir_is_created_private_on_demand(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(tmp_path / "nested" / "data"))
    settings = load_settings()
    assert not settings.data_dir.exists()
    created = settings.ensure_data_dir()
    assert created.is_dir()
    assert stat.S_IMODE(created.stat().st_mode) == 0o700


def test_data_dir_that_cannot_be_created_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(blocker / "data"))
    with pytest.raises(ConfigError, match="PAYMO_QB_DATA_DIR"):
        load_settings().ensure_data_dir()


def test_settings_are_immutable() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.qbo_environment = "sandbox"  # type: ignore[misc]
    assert isinstance(settings, Settings)
