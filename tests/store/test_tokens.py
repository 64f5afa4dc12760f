"""Credential storage: 0600 files written atomically, the keyring path, backend choice, no secret leaks."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paymo_qb_mcp.errors import ConfigError, DataError
from paymo_qb_mcp.store import tokens as tokens_module
from paymo_qb_mcp.store.tokens import (
    CredentialStore,
    FileSecrets,
    KeyringSecrets,
    PaymoCredentials,
    QboAppCredentials,
    QboTokens,
    open_credential_store,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ACCESS = "eyJ-access-token-value-0123456789"
REFRESH = "AB11-refresh-token-value-0123456789"


def qbo_tokens(refresh: str = REFRESH, realm: str = "9341453050298464") -> QboTokens:
    return QboTokens(
        realm_id=realm,
        environment="sandbox",
        client_id="ABclient",
        access_token=ACCESS,
        access_token_expires_at=NOW + timedelta(hours=1),
        refresh_token=refresh,
        refresh_token_expires_at=NOW + timedelta(days=101),
        refresh_token_hard_expires_at=NOW + timedelta(days=5 * 365),
        scopes=("com.intuit.quickbooks.accounting",),
        connected_at=NOW,
        last_intuit_tid="1-abc",
    )


class MemoryKeyring:
    """A keyring backend that keeps entries in a dict (the OS keyring is not available in CI)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.entries:
            raise PasswordDeleteError("not found")
        del self.entries[(service, username)]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_store_round_trips_every_field(tmp_path: Path) -> None:
    store = open_credential_store(tmp_path / "data", "file")
    store.save_qbo_tokens(qbo_tokens())
    assert store.load_qbo_tokens("9341453050298464") == qbo_tokens()
    assert store.load_qbo_tokens("other") is None
    assert store.qbo_realms() == ["9341453050298464"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_credentials_file_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = open_credential_store(data_dir, "file")
    store.save_qbo_tokens(qbo_tokens())
    store.save_paymo(PaymoCredentials(api_key="paymo-key-123", verified_at=NOW))
    assert mode_of(data_dir / "credentials.json") == 0o600
    assert mode_of(data_dir) == 0o700
    # Even a file someone loosened is rewritten owner-only.
    os.chmod(data_dir / "credentials.json", 0o644)
    store.save_qbo_tokens(qbo_tokens(refresh="AB11-second"))
    assert mode_of(data_dir / "credentials.json") == 0o600


def test_crash_before_the_rename_keeps_the_previous_refresh_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_credential_store(tmp_path, "file")
    store.save_qbo_tokens(qbo_tokens(refresh="AB11-old"))
    before = (tmp_path / "credentials.json").read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tokens_module.os, "replace", crash)
    with pytest.raises(ConfigError, match="No space left on device"):
        store.save_qbo_tokens(qbo_tokens(refresh="AB11-new"))
    monkeypatch.undo()
    assert (tmp_path / "credentials.json").read_bytes() == before
    loaded = store.load_qbo_tokens("9341453050298464")
    assert loaded is not None
    assert loaded.refresh_token == "AB11-old"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_write_is_flushed_to_disk_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(tokens_module.os, "fsync", fsync)
    monkeypatch.setattr(tokens_module.os, "replace", replace)
    FileSecrets(tmp_path / "credentials.json").put("k", {"v": 1})
    assert events.index("fsync") < events.index("replace")
    if os.name == "posix":  # the directory entry is flushed after the rename
        assert events[-1] == "fsync"


def test_damaged_file_is_a_clear_data_error(tmp_path: Path) -> None:
    (tmp_path / "credentials.json").write_text("{not json")
    store = open_credential_store(tmp_path, "file")
    with pytest.raises(DataError, match="credentials file"):
        store.load_qbo_tokens("1")


def test_naive_timestamps_are_refused(tmp_path: Path) -> None:
    store = open_credential_store(tmp_path, "file")
    naive = QboTokens(
        realm_id="1",
        environment="sandbox",
        client_id="c",
        access_token="a",
        access_token_expires_at=datetime(2026, 1, 1),
        refresh_token="r",
        refresh_token_expires_at=NOW,
        connected_at=NOW,
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        store.save_qbo_tokens(naive)


def test_paymo_key_and_app_keys_round_trip_and_delete(tmp_path: Path) -> None:
    store = open_credential_store(tmp_path, "file")
    store.save_paymo(
        PaymoCredentials(api_key="paymo-key-123", user_name="Alice", company_name="NPS", verified_at=NOW)
    )
    app = QboAppCredentials(
        environment="sandbox",
        client_id="ABclient",
        client_secret="shh",
        redirect_uri="http://localhost:8765/callback",
    )
    store.save_qbo_app(app)
    paymo = store.load_paymo()
    assert paymo is not None
    assert paymo.api_key == "paymo-key-123"
    assert paymo.user_name == "Alice"
    assert store.load_qbo_app("sandbox") == app
    assert store.load_qbo_app("production") is None
    store.delete_paymo()
    store.delete_qbo_app("sandbox")
    assert store.load_paymo() is None
    assert store.load_qbo_app("sandbox") is None


def test_secrets_never_show_in_repr() -> None:
    text = repr(qbo_tokens()) + repr(PaymoCredentials(api_key="paymo-key-123", verified_at=NOW))
    text += repr(
        QboAppCredentials(environment="sandbox", client_id="c", client_secret="shh-secret", redirect_uri="u")
    )
    for secret in (ACCESS, REFRESH, "paymo-key-123", "shh-secret"):
        assert secret not in text


def test_keyring_store_keeps_secrets_out_of_the_data_directory(tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    store = open_credential_store(tmp_path, "keyring", keyring_backend=keyring)
    store.save_qbo_tokens(qbo_tokens())
    store.save_paymo(PaymoCredentials(api_key="paymo-key-123", verified_at=NOW))
    assert store.load_qbo_tokens("9341453050298464") == qbo_tokens()
    assert store.qbo_realms() == ["9341453050298464"]
    assert "OS keyring" in store.describe()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for secret in (ACCESS.encode(), REFRESH.encode(), b"paymo-key-123"):
        assert secret not in on_disk
    stored = json.loads(keyring.entries[("paymo-qb-mcp", "quickbooks:9341453050298464")])
    assert stored["refresh_token"] == REFRESH
    store.delete_qbo_tokens("9341453050298464")
    store.delete_qbo_tokens("9341453050298464")  # deleting twice is harmless
    assert store.qbo_realms() == []


def test_keyring_failure_names_the_fallback(tmp_path: Path) -> None:
    class LockedKeyring(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise RuntimeError("collection is locked")

    store = CredentialStore(KeyringSecrets(LockedKeyring(), tmp_path / "credentials-in-keyring.json"))
    with pytest.raises(ConfigError, match="PAYMO_QB_TOKEN_STORE=file"):
        store.save_qbo_tokens(qbo_tokens())


def test_auto_prefers_a_usable_keyring_then_sticks_to_where_credentials_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring = MemoryKeyring()
    first = open_credential_store(tmp_path / "a", "auto", keyring_backend=keyring)
    assert isinstance(first.backend, KeyringSecrets)
    first.save_qbo_tokens(qbo_tokens())
    # The keyring went away (e.g. a headless session): refuse rather than silently look elsewhere.
    monkeypatch.setattr(tokens_module, "usable_keyring", lambda: None)
    with pytest.raises(ConfigError, match="OS keyring"):
        open_credential_store(tmp_path / "a", "auto")
    # No keyring and nothing stored yet: the file.
    assert isinstance(open_credential_store(tmp_path / "b", "auto").backend, FileSecrets)
    # Credentials already in a file stay there even once a keyring appears.
    open_credential_store(tmp_path / "c", "file").save_qbo_tokens(qbo_tokens())
    assert isinstance(
        open_credential_store(tmp_path / "c", "auto", keyring_backend=keyring).backend, FileSecrets
    )


def test_keyring_mode_without_a_keyring_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens_module, "usable_keyring", lambda: None)
    with pytest.raises(ConfigError, match="no usable OS keyring"):
        open_credential_store(tmp_path, "keyring")


def test_usable_keyring_rejects_the_fail_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    assert tokens_module.usable_keyring() is None


def test_usable_keyring_rejects_a_backend_that_fails_at_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backend import KeyringBackend

    class NoDbus(KeyringBackend):
        priority = 5  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            raise RuntimeError("no D-Bus session")

        def set_password(self, service: str, username: str, password: str) -> None:
            raise RuntimeError("no D-Bus session")

        def delete_password(self, service: str, username: str) -> None:
            raise RuntimeError("no D-Bus session")

    monkeypatch.setattr(keyring, "get_keyring", lambda: NoDbus())
    assert tokens_module.usable_keyring() is None


def test_concurrent_writers_do_not_lose_each_others_records(tmp_path: Path) -> None:
    import threading

    store = open_credential_store(tmp_path, "file")
    realms = [str(1000 + n) for n in range(12)]
    threads = [threading.Thread(target=store.save_qbo_tokens, args=(qbo_tokens(realm=r),)) for r in realms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(store.qbo_realms()) == realms


@pytest.mark.parametrize("backend", ["file", "keyring"])
def test_the_refresh_lock_lies_beside_the_credentials_and_excludes_other_holders(
    tmp_path: Path, backend: str
) -> None:
    import threading

    data_dir = tmp_path / "data"
    store = (
        open_credential_store(data_dir, "file")
        if backend == "file"
        else open_credential_store(data_dir, "keyring", keyring_backend=MemoryKeyring())
    )
    holder = store.qbo_refresh_lock("9341453050298464")
    other = store.qbo_refresh_lock("9341453050298464")
    assert Path(holder.lock_file).parent == data_dir
    assert Path(holder.lock_file).name == "quickbooks-refresh-9341453050298464.lock"
    # Acquired in one thread (a worker), released from another (the event loop's).
    acquirer = threading.Thread(target=holder.acquire)
    acquirer.start()
    acquirer.join()
    with pytest.raises(TimeoutError):
        other.acquire(timeout=0)
    assert store.qbo_refresh_lock("another-realm").acquire(timeout=0)  # one lock per realm
    holder.release()
    other.acquire(timeout=0)
    other.release()
    assert "/" not in Path(store.qbo_refresh_lock("../etc/x").lock_file).name
