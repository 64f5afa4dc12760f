"""The keyed audit chain: an HMAC key kept with the credentials makes a consistent rewrite of the whole chain
by someone without the key fail at its first rewritten line, naming the key; logs written before the key
existed still verify (as unkeyed, up to the line keying began); checkpoints kept elsewhere catch what
the file alone cannot; the key itself never reaches the log, its head record or an error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import simplejson

from paymo_qb_mcp.store.audit import GENESIS_HASH, AuditLog, Checkpoint, canonical_json, verify
from paymo_qb_mcp.store.tokens import AUDIT_KEY_FILE, DataDirAuditKeys, open_credential_store

T0 = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)


class StepClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class MemoryKeyring:
    """A keyring backend in a dict (no OS keyring in CI)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.entries[(service, username)]


def session(log: AuditLog, count: int = 6) -> None:
    for index in range(count):
        log.append("tool_call", tool="sync_invoice", arguments={"paymo_invoice_id": 1040 + index})


def entries_of(path: Path) -> list[dict[str, Any]]:
    return [simplejson.loads(line, use_decimal=True) for line in path.read_bytes().splitlines()]


def key_secret(data_dir: Path) -> bytes:
    key = DataDirAuditKeys(data_dir).load()
    assert key is not None
    return key.secret


def rewrite(path: Path, change: Any, *, secret: bytes | None = None, keep_key_id: bool = False) -> None:
    """Rewrite every entry (`change` edits each) and re-chain it consistently, as someone holding the file
    would: with plain SHA-256 when they lack the key, or with the key's HMAC when they have it. The head
    record is rewritten to match (unkeyed: its MAC needs the key)."""
    previous = GENESIS_HASH
    lines = []
    for entry in entries_of(path):
        entry.pop("hash")
        if not keep_key_id and secret is None:
            entry.pop("key_id", None)
        entry["prev"] = previous
        change(entry)
        body = canonical_json(entry)
        if secret is None:
            previous = hashlib.sha256(body).hexdigest()
        else:
            previous = hmac.new(secret, body, hashlib.sha256).hexdigest()
        entry["hash"] = previous
        lines.append(canonical_json(entry) + b"\n")
    path.write_bytes(b"".join(lines))
    head = path.with_name(path.name + ".head")
    head.write_bytes(canonical_json({"seq": len(lines), "hash": previous}))


def unkeyed_copy(path: Path) -> None:
    """Rewrite with SHA-256, keeping every field but the key id: the log as it would be without a key."""
    rewrite(path, lambda entry: None)


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog.in_data_dir(tmp_path, clock=StepClock())
    session(audit)
    return audit


def test_a_new_log_is_keyed_from_its_first_line_with_a_key_kept_beside_the_credentials(
    log: AuditLog, tmp_path: Path
) -> None:
    key = DataDirAuditKeys(tmp_path).load()
    assert key is not None
    assert key.keyed_from == 1
    key_file = tmp_path / AUDIT_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for entry in entries_of(log.path):
        claimed = entry.pop("hash")
        assert entry["key_id"] == key.key_id
        assert claimed == hmac.new(key.secret, canonical_json(entry), hashlib.sha256).hexdigest()
    result = log.verify()
    assert (result.ok, result.entries, result.key_id, result.keyed_from) == (True, 6, key.key_id, 1)


def test_the_key_never_reaches_the_log_the_head_or_a_repr(log: AuditLog, tmp_path: Path) -> None:
    secret = key_secret(tmp_path)
    key = DataDirAuditKeys(tmp_path).load()
    written = b"".join(
        path.read_bytes() for path in tmp_path.iterdir() if path.is_file() and path.name != AUDIT_KEY_FILE
    )
    for form in (secret, secret.hex().encode(), base64.b64encode(secret), base64.urlsafe_b64encode(secret)):
        assert form not in written
    assert secret.hex() not in repr(key)
    assert base64.b64encode(secret).decode() not in repr(key)
    assert secret.hex() not in str(log.verify())


def test_making_the_key_logs_its_id_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    log = AuditLog.in_data_dir(tmp_path, clock=StepClock())
    session(log, 1)
    key = DataDirAuditKeys(tmp_path).load()
    assert key is not None
    assert key.key_id in caplog.text
    for form in (key.secret.hex(), base64.b64encode(key.secret).decode()):
        assert form not in caplog.text


@pytest.mark.parametrize("keep_key_id", [False, True], ids=["key-ids-dropped", "key-ids-kept"])
def test_a_whole_chain_rewritten_with_plain_sha256_fails_at_its_first_line_naming_the_key(
    log: AuditLog, tmp_path: Path, keep_key_id: bool
) -> None:
    key = DataDirAuditKeys(tmp_path).load()
    assert key is not None

    def forge(entry: dict[str, Any]) -> None:
        if entry["seq"] == 4:
            entry["arguments"]["paymo_invoice_id"] = 9999

    rewrite(log.path, forge, keep_key_id=keep_key_id)
    result = verify(log.path)
    assert (result.ok, result.first_bad_line, result.entries) == (False, 1, 0)
    assert key.key_id in (result.reason or "")
    assert result.key_id == key.key_id


def test_the_same_rewrite_made_with_the_key_verifies(log: AuditLog, tmp_path: Path) -> None:
    """What makes an entry authentic is the key: the legitimate writer (who holds it) can chain anything."""

    def forge(entry: dict[str, Any]) -> None:
        if entry["seq"] == 4:
            entry["arguments"]["paymo_invoice_id"] = 9999

    rewrite(log.path, forge, secret=key_secret(tmp_path))
    # The head needs the key's MAC too: the legitimate writer re-signs it with its next append.
    log.append("outcome", outcome="applied")
    result = verify(log.path)
    assert (result.ok, result.entries) == (True, 7), result


def test_a_log_written_before_the_key_existed_still_verifies_and_is_keyed_from_the_next_line(
    tmp_path: Path,
) -> None:
    legacy = AuditLog.in_data_dir(tmp_path, clock=StepClock(), keys=None)
    session(legacy, 5)
    assert "key_id" not in entries_of(legacy.path)[0]
    before = verify(legacy.path)
    assert (before.ok, before.entries, before.key_id, before.keyed_from) == (True, 5, None, None)
    assert not (tmp_path / AUDIT_KEY_FILE).exists()  # an unkeyed writer creates no key

    keyed = AuditLog.in_data_dir(tmp_path, clock=StepClock())
    session(keyed, 3)
    key = DataDirAuditKeys(tmp_path).load()
    assert key is not None
    assert key.keyed_from == 6
    entries = entries_of(keyed.path)
    assert ["key_id" in entry for entry in entries] == [False] * 5 + [True] * 3
    after = verify(keyed.path)
    assert (after.ok, after.entries, after.key_id, after.keyed_from) == (True, 8, key.key_id, 6)

    # Without the key, the whole chain rewritten consistently fails where keying began.
    unkeyed_copy(keyed.path)
    rewritten = verify(keyed.path)
    assert (rewritten.ok, rewritten.first_bad_line) == (False, 6)
    assert key.key_id in (rewritten.reason or "")


def test_an_unkeyed_line_after_keyed_ones_is_refused(log: AuditLog, tmp_path: Path) -> None:
    AuditLog(log.path, keys=None).append("error", message="written by someone without the key")
    result = verify(log.path)
    assert (result.ok, result.first_bad_line) == (False, 7)
    assert "not keyed" in (result.reason or "")


def test_an_edited_keyed_entry_fails_at_its_line(log: AuditLog, tmp_path: Path) -> None:
    lines = log.path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b"1042", b"1043")
    log.path.write_bytes(b"".join(lines))
    result = verify(log.path)
    assert (result.ok, result.first_bad_line) == (False, 3)


def test_a_truncated_keyed_log_with_a_forged_or_deleted_head_is_found(log: AuditLog) -> None:
    head = log.path.with_name(log.path.name + ".head")
    lines = log.path.read_bytes().splitlines(keepends=True)[:4]
    log.path.write_bytes(b"".join(lines))
    last = simplejson.loads(lines[-1])
    head.write_bytes(canonical_json({"seq": 4, "hash": last["hash"]}))  # unkeyed: no MAC without the key
    forged = verify(log.path)
    assert (forged.ok, forged.first_bad_line) == (False, 4)
    assert "head" in (forged.reason or "")
    head.write_bytes(
        canonical_json({"seq": 4, "hash": last["hash"], "key_id": last["key_id"], "mac": "0" * 64})
    )
    assert not verify(log.path).ok
    head.unlink()
    deleted = verify(log.path)
    assert not deleted.ok
    assert "head" in (deleted.reason or "")


def test_a_key_that_is_gone_is_named(log: AuditLog, tmp_path: Path) -> None:
    key = DataDirAuditKeys(tmp_path).load()
    assert key is not None
    (tmp_path / AUDIT_KEY_FILE).unlink()
    result = verify(log.path)
    assert (result.ok, result.first_bad_line) == (False, 1)
    assert key.key_id in (result.reason or "")
    assert "not available" in (result.reason or "")


def test_a_checkpoint_kept_elsewhere_catches_a_rollback_the_file_alone_cannot(
    log: AuditLog, tmp_path: Path
) -> None:
    saved = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("audit.")}
    session(log, 3)
    checkpoint = log.verify().checkpoint
    assert checkpoint is not None
    assert checkpoint.seq == 9
    text = str(checkpoint)
    assert Checkpoint.parse(text) == checkpoint
    assert checkpoint.key_id is not None
    assert checkpoint.key_id in text
    assert key_secret(tmp_path).hex() not in text
    assert verify(log.path, checkpoints=[checkpoint]).ok

    # Whoever can write the data directory puts back an older copy of the log and its head: consistent.
    for name, data in saved.items():
        (tmp_path / name).write_bytes(data)
    assert verify(log.path).ok
    rolled_back = verify(log.path, checkpoints=[checkpoint])
    assert (rolled_back.ok, rolled_back.first_bad_line) == (False, 7)
    assert "checkpoint" in (rolled_back.reason or "")

    # A checkpoint also pins the content: entry 9 differs after a rewrite by someone with the key.
    session(log, 3)
    rewrite(
        log.path, lambda entry: entry.update(time="2026-11-03T15:00:00+00:00"), secret=key_secret(tmp_path)
    )
    log.append("outcome", outcome="applied")
    assert log.verify().ok
    rewritten = verify(log.path, checkpoints=[checkpoint])
    assert (rewritten.ok, rewritten.first_bad_line) == (False, 9)


def test_with_the_credentials_in_the_keyring_the_key_is_kept_there(tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    from paymo_qb_mcp.store.tokens import PaymoCredentials

    credentials = open_credential_store(tmp_path, "keyring", keyring_backend=keyring)
    credentials.save_paymo(PaymoCredentials(api_key="paymo-key-123", verified_at=T0))
    keys = DataDirAuditKeys(tmp_path, keyring_backend=keyring)
    log = AuditLog.in_data_dir(tmp_path, clock=StepClock(), keys=keys)
    session(log, 2)
    assert not (tmp_path / AUDIT_KEY_FILE).exists()
    names = [name for (_, name) in keyring.entries if name.startswith("audit-key:")]
    assert len(names) == 1
    record = json.loads(keyring.entries[("paymo-qb-mcp", names[0])])
    key = keys.load()
    assert key is not None
    assert record["key_id"] == key.key_id
    assert verify(log.path, keys=keys).ok
    # Without the keyring the keyed lines cannot be checked, and verify says so.
    missing = verify(log.path, keys=DataDirAuditKeys(tmp_path, keyring_backend=MemoryKeyring()))
    assert (missing.ok, missing.first_bad_line) == (False, 1)
    assert key.key_id in (missing.reason or "")
