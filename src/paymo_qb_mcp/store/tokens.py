"""Credential storage a user can trust: QuickBooks OAuth tokens per realm, the QuickBooks app's keys and
the Paymo API key, kept in the OS keyring when one is usable, else in a 0600 JSON file written atomically;
the lock under which one process at a time refreshes a realm's tokens; and the audit log's HMAC key,
kept with the credentials (`DataDirAuditKeys`).

Secrets never reach a log line, an exception message or a ``repr``. Every write replaces a whole
record in one step (a keyring entry, or temp file + fsync + ``os.replace``), so a crash mid-write
leaves the previous record intact and never loses a refresh token.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from filelock import FileLock

from paymo_qb_mcp.errors import ConfigError, DataError

__all__ = [
    "AUDIT_KEY_FILE",
    "KEYRING_SERVICE",
    "AuditKey",
    "CredentialStore",
    "DataDirAuditKeys",
    "FileSecrets",
    "KeyringSecrets",
    "PaymoCredentials",
    "QboAppCredentials",
    "QboTokenFields",
    "QboTokens",
    "SecretBackend",
    "TokenStoreMode",
    "open_credential_store",
    "usable_keyring",
]

logger = logging.getLogger(__name__)

KEYRING_SERVICE = "paymo-qb-mcp"
CREDENTIALS_FILE = "credentials.json"
# The keyring cannot list its entries portably, so the names (never the values) are kept beside the data.
KEYRING_INDEX_FILE = "credentials-in-keyring.json"
# The audit log's key when the credentials are not in the keyring: its own 0600 file beside them, so that
# `auto` (which follows where credentials.json is) never mistakes the key for credentials.
AUDIT_KEY_FILE = "audit-key.json"
FILE_FORMAT_VERSION = 1

TokenStoreMode = Literal["auto", "keyring", "file"]


class QboTokenFields(Protocol):
    """What a QuickBooks token record must offer to be saved (satisfied by the OAuth layer's records)."""

    @property
    def realm_id(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def access_token(self) -> str: ...
    @property
    def access_token_expires_at(self) -> datetime: ...
    @property
    def refresh_token(self) -> str: ...
    @property
    def refresh_token_expires_at(self) -> datetime: ...
    @property
    def refresh_token_hard_expires_at(self) -> datetime | None: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...
    @property
    def connected_at(self) -> datetime: ...
    @property
    def last_intuit_tid(self) -> str | None: ...


@dataclass(frozen=True, kw_only=True)
class QboTokens:
    """One QuickBooks company connection as stored: tokens, their expiries, and where they came from."""

    realm_id: str
    environment: str
    client_id: str
    access_token: str = field(repr=False)
    access_token_expires_at: datetime
    refresh_token: str = field(repr=False)
    refresh_token_expires_at: datetime
    refresh_token_hard_expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    connected_at: datetime
    last_intuit_tid: str | None = None

    @classmethod
    def from_fields(cls, tokens: QboTokenFields) -> QboTokens:
        return cls(
            realm_id=tokens.realm_id,
            environment=tokens.environment,
            client_id=tokens.client_id,
            access_token=tokens.access_token,
            access_token_expires_at=tokens.access_token_expires_at,
            refresh_token=tokens.refresh_token,
            refresh_token_expires_at=tokens.refresh_token_expires_at,
            refresh_token_hard_expires_at=tokens.refresh_token_hard_expires_at,
            scopes=tuple(tokens.scopes),
            connected_at=tokens.connected_at,
            last_intuit_tid=tokens.last_intuit_tid,
        )

    def to_json(self) -> dict[str, Any]:
        hard = self.refresh_token_hard_expires_at
        return {
            "realm_id": self.realm_id,
            "environment": self.environment,
            "client_id": self.client_id,
            "access_token": self.access_token,
            "access_token_expires_at": _aware(self.access_token_expires_at).isoformat(),
            "refresh_token": self.refresh_token,
            "refresh_token_expires_at": _aware(self.refresh_token_expires_at).isoformat(),
            "refresh_token_hard_expires_at": _aware(hard).isoformat() if hard else None,
            "scopes": list(self.scopes),
            "connected_at": _aware(self.connected_at).isoformat(),
            "last_intuit_tid": self.last_intuit_tid,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QboTokens:
        try:
            hard = data.get("refresh_token_hard_expires_at")
            return cls(
                realm_id=str(data["realm_id"]),
                environment=str(data["environment"]),
                client_id=str(data.get("client_id", "")),
                access_token=str(data["access_token"]),
                access_token_expires_at=_parse_time(data["access_token_expires_at"]),
                refresh_token=str(data["refresh_token"]),
                refresh_token_expires_at=_parse_time(data["refresh_token_expires_at"]),
                refresh_token_hard_expires_at=_parse_time(hard) if hard else None,
                scopes=tuple(str(s) for s in data.get("scopes", ())),
                connected_at=_parse_time(data["connected_at"]),
                last_intuit_tid=data.get("last_intuit_tid"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"The stored QuickBooks token record is damaged ({type(exc).__name__} on {exc}); "
                "run `paymo-qb-mcp auth quickbooks` again to replace it."
            ) from None


@dataclass(frozen=True, kw_only=True)
class QboAppCredentials:
    """The Intuit app's key set (Development keys for sandbox, Production keys for production)."""

    environment: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    # None means Intuit's own OAuth service; otherwise a stand-in such as the sandbox emulator.
    discovery_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class PaymoCredentials:
    """The Paymo API key and who it belongs to (as the verification call reported it)."""

    api_key: str = field(repr=False)
    user_name: str | None = None
    company_name: str | None = None
    verified_at: datetime


class SecretBackend(Protocol):
    """Where whole records live. Each `put` replaces one record atomically."""

    def get(self, key: str) -> dict[str, Any] | None: ...
    def put(self, key: str, record: Mapping[str, Any]) -> None: ...
    def delete(self, key: str) -> None: ...
    def names(self) -> list[str]: ...
    def describe(self) -> str: ...
    @property
    def directory(self) -> Path:
        """The data directory the records belong to (lock files go there)."""
        ...


# ---------------------------------------------------------------------- file backend


def _fsync_directory(directory: Path) -> None:
    # The rename itself is only durable once the directory entry is flushed (POSIX); Windows has no
    # directory handles to flush and NTFS journals the rename.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` readable by the owner only; a crash leaves either old or new content."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp_path = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            # mkstemp already creates 0600; chmod again in case a umask or platform widened it.
            os.chmod(temp_path, stat.S_IRUSR | stat.S_IWUSR)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp_path.unlink()
        raise
    _fsync_directory(path.parent)


class FileSecrets:
    """All records in one JSON file (0600, in a 0700 directory), rewritten atomically under a file lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(str(path.with_name(path.name + ".lock")), timeout=30)

    def describe(self) -> str:
        return f"file {self.path} (owner read/write only)"

    @property
    def directory(self) -> Path:
        return self.path.parent

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"Cannot read the credentials file {self.path}: {exc.strerror}.") from None
        try:
            document = json.loads(raw)
            entries = document["entries"]
            if not isinstance(entries, dict):
                raise TypeError("entries is not an object")
        except (ValueError, KeyError, TypeError):
            raise DataError(
                f"The credentials file {self.path} is not valid; move it aside and run "
                "`paymo-qb-mcp auth quickbooks` / `paymo-qb-mcp auth paymo` again."
            ) from None
        return entries

    def _write(self, entries: Mapping[str, Mapping[str, Any]]) -> None:
        document = {"version": FILE_FORMAT_VERSION, "entries": entries}
        payload = json.dumps(document, indent=2, sort_keys=True).encode("utf-8")
        try:
            _ensure_private_directory(self.path.parent)
            atomic_write_private(self.path, payload)
        except OSError as exc:
            raise ConfigError(
                f"Cannot write the credentials file {self.path}: {exc.strerror or exc}. "
                "Check that PAYMO_QB_DATA_DIR is writable and the disk is not full."
            ) from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            _ensure_private_directory(self.path.parent)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the data directory {self.path.parent}: {exc.strerror or exc}."
            ) from None
        with self._lock:
            yield

    def get(self, key: str) -> dict[str, Any] | None:
        with self._locked():
            record = self._read().get(key)
        return dict(record) if record is not None else None

    def put(self, key: str, record: Mapping[str, Any]) -> None:
        with self._locked():
            entries = self._read()
            entries[key] = dict(record)
            self._write(entries)

    def delete(self, key: str) -> None:
        with self._locked():
            entries = self._read()
            if entries.pop(key, None) is not None:
                self._write(entries)

    def names(self) -> list[str]:
        with self._locked():
            return sorted(self._read())


def _ensure_private_directory(directory: Path) -> None:
    if not directory.exists():
        directory.mkdir(parents=True, mode=0o700, exist_ok=True)


# ---------------------------------------------------------------------- keyring backend


class KeyringLike(Protocol):
    """The three calls we need from a `keyring` backend."""

    def get_password(self, service: str, username: str) -> str | None: ...
    def set_password(self, service: str, username: str, password: str) -> None: ...
    def delete_password(self, service: str, username: str) -> None: ...


def usable_keyring() -> KeyringLike | None:
    """The OS keyring if one is really usable here (a trusted backend that answers), else None."""
    import keyring
    from keyring.backends.chainer import ChainerBackend

    try:
        backend = keyring.get_keyring()
    except Exception:  # keyring's own loading can fail on odd installs; then there is no keyring
        return None
    candidates = list(backend.backends) if isinstance(backend, ChainerBackend) else [backend]
    # priority < 1 are the "fail"/"null" backends and plaintext files (keyrings.alt): no better than ours.
    if not any(candidate.priority >= 1 for candidate in candidates):
        return None
    try:
        # A backend can look viable and still fail at first use (no D-Bus session, locked collection).
        backend.get_password(KEYRING_SERVICE, "__probe__")
    except Exception:
        return None
    return backend


class KeyringSecrets:
    """One keyring entry per record (JSON), plus a names-only index file in the data directory."""

    def __init__(
        self, keyring_backend: KeyringLike, index_path: Path, *, service: str = KEYRING_SERVICE
    ) -> None:
        self._keyring = keyring_backend
        self.index_path = index_path
        self.service = service
        self._index_lock = FileLock(str(index_path.with_name(index_path.name + ".lock")), timeout=30)

    def describe(self) -> str:
        return f"OS keyring ({type(self._keyring).__name__}, service {self.service!r})"

    @property
    def directory(self) -> Path:
        return self.index_path.parent

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = self._keyring.get_password(self.service, key)
        except Exception as exc:
            raise ConfigError(
                f"The OS keyring could not be read ({type(exc).__name__}). Unlock it, or set "
                "PAYMO_QB_TOKEN_STORE=file and run the auth commands again."
            ) from None
        if raw is None:
            return None
        try:
            record = json.loads(raw)
        except ValueError:
            raise DataError(
                f"The keyring entry {self.service}/{key} is not valid; run the auth command again."
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"The keyring entry {self.service}/{key} is not valid; run the auth command again."
            )
        return record

    def put(self, key: str, record: Mapping[str, Any]) -> None:
        payload = json.dumps(dict(record), separators=(",", ":"), sort_keys=True)
        try:
            self._keyring.set_password(self.service, key, payload)
        except Exception as exc:
            raise ConfigError(
                f"The OS keyring refused to store {key} ({type(exc).__name__}). Unlock it, or set "
                "PAYMO_QB_TOKEN_STORE=file and run the auth commands again."
            ) from None
        # The secret is stored first: a crash before the index update only hides the name from listings.
        self._update_index(add=key)

    def delete(self, key: str) -> None:
        try:
            self._keyring.delete_password(self.service, key)
        except Exception as exc:
            # keyring raises PasswordDeleteError for a missing entry; anything else is a real failure.
            from keyring.errors import PasswordDeleteError

            if not isinstance(exc, PasswordDeleteError):
                raise ConfigError(f"The OS keyring refused to delete {key} ({type(exc).__name__}).") from None
        self._update_index(remove=key)

    def names(self) -> list[str]:
        return sorted(self._read_index())

    def _read_index(self) -> set[str]:
        try:
            document = json.loads(self.index_path.read_bytes())
            return {str(name) for name in document["keys"]}
        except FileNotFoundError:
            return set()
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("the keyring index %s is unreadable; listing starts empty", self.index_path)
            return set()

    def _update_index(self, *, add: str | None = None, remove: str | None = None) -> None:
        try:
            _ensure_private_directory(self.index_path.parent)
            with self._index_lock:
                names = self._read_index()
                before = set(names)
                if add:
                    names.add(add)
                if remove:
                    names.discard(remove)
                if names != before or not self.index_path.exists():
                    document = {"version": FILE_FORMAT_VERSION, "backend": "keyring", "keys": sorted(names)}
                    atomic_write_private(self.index_path, json.dumps(document, indent=2).encode("utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"Cannot write {self.index_path}: {exc.strerror or exc}. "
                "Check that PAYMO_QB_DATA_DIR is writable."
            ) from None


# ---------------------------------------------------------------------- the store


_QBO_PREFIX = "quickbooks:"
_QBO_APP_PREFIX = "quickbooks-app:"
_PAYMO_KEY = "paymo:api-key"


class CredentialStore:
    """QuickBooks tokens per realm, the QuickBooks app keys per environment, and the Paymo API key.

    Methods are synchronous (file or keyring I/O); async callers run them with
    ``anyio.to_thread.run_sync``. It satisfies ``paymo_qb_mcp.quickbooks.oauth.TokenStore``.
    """

    def __init__(self, backend: SecretBackend) -> None:
        self.backend = backend

    def describe(self) -> str:
        return self.backend.describe()

    # QuickBooks tokens
    def load_qbo_tokens(self, realm_id: str) -> QboTokens | None:
        record = self.backend.get(_QBO_PREFIX + realm_id)
        return QboTokens.from_json(record) if record is not None else None

    def save_qbo_tokens(self, tokens: QboTokenFields) -> None:
        record = QboTokens.from_fields(tokens)
        self.backend.put(_QBO_PREFIX + record.realm_id, record.to_json())
        logger.info("saved QuickBooks tokens for realm %s in %s", record.realm_id, self.describe())

    def delete_qbo_tokens(self, realm_id: str) -> None:
        self.backend.delete(_QBO_PREFIX + realm_id)

    def qbo_realms(self) -> list[str]:
        return [key.removeprefix(_QBO_PREFIX) for key in self.backend.names() if key.startswith(_QBO_PREFIX)]

    def qbo_refresh_lock(self, realm_id: str) -> FileLock:
        """The lock every process using this store holds while it refreshes `realm_id`'s tokens.

        Intuit rotates the refresh token, so two processes spending the same one leave one of them
        with a dead token; under this lock the second re-reads the store and uses the first's result.
        It is an OS file lock beside the credentials (in the data directory for the keyring), so a
        process that dies holding it releases it. Not bound to a thread: it may be released by a
        thread other than the one that acquired it (the provider acquires it in a worker thread).
        """
        directory = self.backend.directory
        try:
            _ensure_private_directory(directory)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the data directory {directory}: {exc.strerror or exc}."
            ) from None
        name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in realm_id)
        return FileLock(str(directory / f"quickbooks-refresh-{name}.lock"), thread_local=False)

    # QuickBooks app keys
    def load_qbo_app(self, environment: str) -> QboAppCredentials | None:
        record = self.backend.get(_QBO_APP_PREFIX + environment)
        if record is None:
            return None
        try:
            return QboAppCredentials(
                environment=str(record["environment"]),
                client_id=str(record["client_id"]),
                client_secret=str(record["client_secret"]),
                redirect_uri=str(record["redirect_uri"]),
                discovery_url=record.get("discovery_url"),
            )
        except KeyError:
            raise DataError(
                "The stored QuickBooks app keys are damaged; run `paymo-qb-mcp auth quickbooks` again."
            ) from None

    def save_qbo_app(self, app: QboAppCredentials) -> None:
        self.backend.put(
            _QBO_APP_PREFIX + app.environment,
            {
                "environment": app.environment,
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "redirect_uri": app.redirect_uri,
                "discovery_url": app.discovery_url,
            },
        )

    def delete_qbo_app(self, environment: str) -> None:
        self.backend.delete(_QBO_APP_PREFIX + environment)

    # Paymo
    def load_paymo(self) -> PaymoCredentials | None:
        record = self.backend.get(_PAYMO_KEY)
        if record is None:
            return None
        try:
            return PaymoCredentials(
                api_key=str(record["api_key"]),
                user_name=record.get("user_name"),
                company_name=record.get("company_name"),
                verified_at=_parse_time(record["verified_at"]),
            )
        except (KeyError, TypeError, ValueError):
            raise DataError(
                "The stored Paymo API key record is damaged; run `paymo-qb-mcp auth paymo` again."
            ) from None

    def save_paymo(self, credentials: PaymoCredentials) -> None:
        self.backend.put(
            _PAYMO_KEY,
            {
                "api_key": credentials.api_key,
                "user_name": credentials.user_name,
                "company_name": credentials.company_name,
                "verified_at": _aware(credentials.verified_at).isoformat(),
            },
        )
        logger.info("saved the Paymo API key in %s", self.describe())

    def delete_paymo(self) -> None:
        self.backend.delete(_PAYMO_KEY)


def open_credential_store(
    data_dir: Path,
    mode: TokenStoreMode = "auto",
    *,
    keyring_backend: KeyringLike | None = None,
) -> CredentialStore:
    """The store for `data_dir`, following PAYMO_QB_TOKEN_STORE (`auto`, `keyring` or `file`).

    `auto` keeps using wherever credentials already are (so a later run never silently looks in the
    other place), and otherwise prefers a usable OS keyring over the file. `keyring_backend`
    replaces OS keyring detection (tests, or a caller that picked one).
    """
    file_path = data_dir / CREDENTIALS_FILE
    index_path = data_dir / KEYRING_INDEX_FILE
    if mode == "file":
        return CredentialStore(FileSecrets(file_path))
    found_keyring = keyring_backend if keyring_backend is not None else usable_keyring()
    if mode == "keyring":
        if found_keyring is None:
            raise ConfigError(
                "PAYMO_QB_TOKEN_STORE=keyring but no usable OS keyring was found (on Linux a Secret Service "
                "such as GNOME Keyring or KWallet must be running); set PAYMO_QB_TOKEN_STORE=file or auto."
            )
        return CredentialStore(KeyringSecrets(found_keyring, index_path))
    if mode != "auto":
        raise ConfigError(f"PAYMO_QB_TOKEN_STORE must be auto, keyring or file, not {mode!r}.")
    if index_path.exists():
        if found_keyring is None:
            raise ConfigError(
                f"Credentials were stored in the OS keyring ({index_path} says so), but no usable keyring is "
                "reachable from this process. Run from a session with the keyring unlocked, or set "
                "PAYMO_QB_TOKEN_STORE=file and run the auth commands again."
            )
        return CredentialStore(KeyringSecrets(found_keyring, index_path))
    if file_path.exists() or found_keyring is None:
        return CredentialStore(FileSecrets(file_path))
    return CredentialStore(KeyringSecrets(found_keyring, index_path))


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("credential timestamps must be timezone-aware")
    return moment


def _parse_time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return moment


# ---------------------------------------------------------------------- the audit log's key

_AUDIT_KEY_NAME = "audit-key"
_AUDIT_KEY_BYTES = 32


def audit_key_id(secret: bytes) -> str:
    """The public name of an audit key: derived from it (so a record cannot pair an id with another key),
    and revealing nothing about it."""
    return "ak-" + hmac.new(secret, b"paymo-qb-mcp audit key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class AuditKey:
    """The HMAC key of one data directory's audit log.

    `keyed_from` is the line the key took over at: the log had `keyed_from - 1` entries when the key was
    made, and every entry from that line on must be keyed with it.
    """

    key_id: str
    secret: bytes = field(repr=False)
    created_at: datetime
    keyed_from: int

    @classmethod
    def generate(cls, *, keyed_from: int, now: datetime) -> AuditKey:
        secret = secrets.token_bytes(_AUDIT_KEY_BYTES)
        return cls(key_id=audit_key_id(secret), secret=secret, created_at=_aware(now), keyed_from=keyed_from)

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "secret": base64.b64encode(self.secret).decode("ascii"),
            "created_at": _aware(self.created_at).isoformat(),
            "keyed_from": self.keyed_from,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> AuditKey:
        try:
            secret = base64.b64decode(str(data["secret"]), validate=True)
            key = cls(
                key_id=str(data["key_id"]),
                secret=secret,
                created_at=_parse_time(data["created_at"]),
                keyed_from=int(data["keyed_from"]),
            )
        except (KeyError, TypeError, ValueError, binascii.Error):
            key = None
        if key is None or len(secret) != _AUDIT_KEY_BYTES or audit_key_id(secret) != key.key_id:
            raise DataError(
                f"The audit log's key in {where} is damaged; the keyed entries of the audit log cannot be "
                "checked without it. Restore it from a backup of your credentials."
            )
        return key


class DataDirAuditKeys:
    """Where the audit key of a data directory is kept: with its credentials.

    In the OS keyring when the credentials are there (the directory has ``credentials-in-keyring.json``),
    as the entry ``audit-key:<digest of the directory's path>`` (a keyring is shared by every data
    directory, a key belongs to one log); otherwise in ``audit-key.json`` (0600, written atomically)
    beside ``credentials.json``. A key already in the file is used wherever the credentials went since.
    The key is made by the first keyed append (`create`, under the audit log's lock) and never changes.
    """

    def __init__(self, data_dir: Path, *, keyring_backend: KeyringLike | None = None) -> None:
        self.data_dir = data_dir
        self._keyring_backend = keyring_backend
        self._file = FileSecrets(data_dir / AUDIT_KEY_FILE)

    @property
    def _in_keyring(self) -> bool:
        return (self.data_dir / KEYRING_INDEX_FILE).exists()

    def _keyring_name(self) -> str:
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode("utf-8")).hexdigest()[:16]
        return f"{_AUDIT_KEY_NAME}:{digest}"

    def _keyring(self) -> KeyringSecrets:
        found = self._keyring_backend if self._keyring_backend is not None else usable_keyring()
        if found is None:
            raise ConfigError(
                "The audit log's key is kept in the OS keyring with the credentials "
                f"({KEYRING_INDEX_FILE} in {self.data_dir} says they are there), but no usable keyring is "
                "reachable from this process. Run from a session with the keyring unlocked."
            )
        return KeyringSecrets(found, self.data_dir / KEYRING_INDEX_FILE)

    def describe(self) -> str:
        if self._file.path.exists() or not self._in_keyring:
            return self._file.describe()
        return f"the OS keyring (entry {KEYRING_SERVICE}/{self._keyring_name()})"

    def load(self) -> AuditKey | None:
        """The key, or None when none was made yet; ConfigError when its keyring cannot be reached."""
        if self._file.path.exists():
            record = self._file.get(_AUDIT_KEY_NAME)
            if record is not None:
                return AuditKey.from_json(record, self._file.describe())
        if self._in_keyring:
            name = self._keyring_name()
            record = self._keyring().get(name)
            if record is not None:
                return AuditKey.from_json(record, f"the OS keyring entry {KEYRING_SERVICE}/{name}")
        return None

    def create(self, *, keyed_from: int, now: datetime) -> AuditKey:
        """Make and keep (durably) a new key taking over at line `keyed_from`; the log's lock is held."""
        key = AuditKey.generate(keyed_from=keyed_from, now=now)
        if self._in_keyring:
            self._keyring().put(self._keyring_name(), key.to_json())
        else:
            self._file.put(_AUDIT_KEY_NAME, key.to_json())
        logger.info(
            "made the audit log's key %s (keyed from line %d) in %s", key.key_id, keyed_from, self.describe()
        )
        return key
