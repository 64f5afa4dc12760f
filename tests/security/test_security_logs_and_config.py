"""Log lines and configuration errors: httpx's own request lines are masked like ours, `serve` masks the
configured secrets in every stderr line (tracebacks too), base URLs carrying credentials are refused
without being echoed, and the server's connection objects never show a credential in their repr."""

from __future__ import annotations

import argparse
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from paymo_qb_mcp.cli import serve_cmd
from paymo_qb_mcp.cli.connect import Target, build_target, live_connection
from paymo_qb_mcp.config.policy import load_policy
from paymo_qb_mcp.config.settings import ENVIRONMENT_VARIABLES, load_settings, shipped_policy_path
from paymo_qb_mcp.errors import ConfigError
from paymo_qb_mcp.net.http import HttpService
from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
from paymo_qb_mcp.net.redact import RedactingFilter
from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider
from paymo_qb_mcp.server.runtime import Connection, open_runtime
from paymo_qb_mcp.store.tokens import (
    PaymoCredentials,
    QboAppCredentials,
    QboTokens,
    open_credential_store,
)

PAYMO_KEY = "0cc175b9c0f1b6a831c399e269772661"
QBO_TOKEN = "qbo-access-6f1ed002ab5595859014ebf0951522d9"
CLIENT_SECRET = "intuit-client-secret-3b5d5c3712955042"
REFRESH_TOKEN = "refresh-8277e0910d750195b448797616e091ad"
HTTP_TOKEN = "http-bearer-9e107d9d372bb6826bd81d3542a419d6"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PAYMO_QB_TOKEN_STORE", "file")
    monkeypatch.setenv("QBO_ENVIRONMENT", "sandbox")
    return data_dir


# --- httpx's request lines ----------------------------------------------------------------------


async def test_httpx_request_lines_lose_user_info_and_secret_parameters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    async with HttpService(
        service="paymo",
        base_url=f"https://{PAYMO_KEY}:X@app.paymoapp.com/api",
        transport=transport,
        limiter=UnlimitedLimiter(),
    ) as service:
        await service.request(
            "GET", "invoices/7/", params={"token": "perm-4242424242", "format": "pdf"}, replay_safe=True
        )
    [line] = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert line == (
        "HTTP Request: GET https://***@app.paymoapp.com/api/invoices/7/?token=***&format=pdf "
        '"HTTP/1.1 200 OK"'
    )


# --- the `serve` command's log lines -------------------------------------------------------------


@pytest.fixture
def serve_stderr() -> Iterator[io.StringIO]:
    """A root handler standing in for the one `serve` configures on stderr; filters removed afterwards."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for each in [*root.handlers, logging.getLogger("uvicorn.error"), logging.getLogger("uvicorn.access")]:
            for log_filter in [f for f in each.filters if isinstance(f, RedactingFilter)]:
                each.removeFilter(log_filter)


def test_serve_masks_the_configured_secrets_in_every_log_line(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch, serve_stderr: io.StringIO
) -> None:
    monkeypatch.setenv("QBO_CLIENT_ID", "ABsecurityreview")
    monkeypatch.setenv("QBO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PAYMO_QB_HTTP_TOKEN", HTTP_TOKEN)
    arguments = argparse.Namespace(
        transport="stdio", host="127.0.0.1", port=8000, sandbox=True, tax_model="global", empty=True
    )
    arguments.log_level = "INFO"
    serve_cmd._build(arguments)
    sandbox_key = "5c2a1e7b94d04f3e8a61b7d2c9f0e4a8"  # the sandbox's Paymo key (its seed's)
    log = logging.getLogger("paymo_qb_mcp.anything")
    log.warning("GET https://app.paymoapp.com/api/clients/%s answered 404", sandbox_key)
    log.warning("secret %s and token %s", CLIENT_SECRET, HTTP_TOKEN)
    try:
        raise RuntimeError(f"the agent sent {HTTP_TOKEN}")
    except RuntimeError:
        log.exception("crash")
    written = serve_stderr.getvalue()
    assert "api/clients/*** answered 404" in written
    assert "secret *** and token ***" in written
    assert "RuntimeError: the agent sent ***" in written
    for secret in (sandbox_key, CLIENT_SECRET, HTTP_TOKEN):
        assert secret not in written

    # uvicorn (the HTTP transport) logs through a handler of its own that the root's filter never sees.
    access_log, access_stream = logging.getLogger("uvicorn.access"), io.StringIO()
    own_handler = logging.StreamHandler(access_stream)
    access_log.addHandler(own_handler)
    monkeypatch.setattr(access_log, "propagate", False)
    try:
        access_log.warning('"POST /mcp?client_secret=%s HTTP/1.1" 401', CLIENT_SECRET)
    finally:
        access_log.removeHandler(own_handler)
    assert access_stream.getvalue() == '"POST /mcp?client_secret=*** HTTP/1.1" 401\n'


def test_the_redacting_filter_masks_arguments_tracebacks_and_stacks() -> None:
    log_filter = RedactingFilter([QBO_TOKEN])
    try:
        raise ValueError(f"Authorization: Bearer {QBO_TOKEN}")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "token=%s for %s", (QBO_TOKEN, "realm 9130"), True
        )
        record.exc_info = __import__("sys").exc_info()
    record.stack_info = f"Stack (most recent call last):\n  caller({QBO_TOKEN!r})"
    assert log_filter.filter(record)
    rendered = logging.Formatter().format(record)
    assert QBO_TOKEN not in rendered
    assert record.getMessage() == "token=*** for realm 9130"
    assert "ValueError: Authorization: Bearer ***" in rendered
    assert "caller('***')" in rendered


def test_a_record_without_secrets_is_left_as_it_was() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s -> %d", ("paymo", "GET", 200), None)
    assert RedactingFilter([QBO_TOKEN]).filter(record)
    assert (record.msg, record.args) == ("%s %s -> %d", ("paymo", "GET", 200))


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PAYMO_BASE_URL", f"https://{PAYMO_KEY}:X@app.paymoapp.com/api"),
        ("PAYMO_BASE_URL", f"https://{PAYMO_KEY}@app.paymoapp.com/api"),
        ("QBO_BASE_URL", f"https://user:{QBO_TOKEN}@sandbox-quickbooks.api.intuit.com"),
        ("QBO_BASE_URL", f"https://sandbox-quickbooks.api.intuit.com/v3?access_token={QBO_TOKEN}"),
        ("PAYMO_BASE_URL", f"app.paymoapp.com/api?api_key={PAYMO_KEY}"),
        ("QBO_REDIRECT_URI", f"ftp://{PAYMO_KEY}:X@localhost/callback"),
    ],
)
def test_urls_with_credentials_are_refused_without_being_echoed(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert variable in str(refused.value)
    assert PAYMO_KEY not in str(refused.value)
    assert QBO_TOKEN not in str(refused.value)


# --- the server's connection --------------------------------------------------------------------


def test_connection_and_target_reprs_show_no_credential(tmp_path: Path) -> None:
    connection = Connection(
        paymo_base_url="https://app.paymoapp.com/api",
        paymo_api_key=PAYMO_KEY,
        qbo_base_url="https://sandbox-quickbooks.api.intuit.com",
        qbo_realm_id="9130",
        qbo_tokens=StaticTokenProvider(QBO_TOKEN),
        known_secrets=(CLIENT_SECRET, REFRESH_TOKEN),
    )
    target = Target(
        connection=connection,
        policy=load_policy(shipped_policy_path()),
        policy_path=shipped_policy_path(),
        data_dir=tmp_path,
        known_secrets=(HTTP_TOKEN,),
    )
    for shown in (repr(connection), repr(target), str(target)):
        for secret in (PAYMO_KEY, QBO_TOKEN, CLIENT_SECRET, REFRESH_TOKEN, HTTP_TOKEN):
            assert secret not in shown


def everything_but_the_credential_store(data_dir: Path) -> bytes:
    files = {path.name: path.read_bytes() for path in data_dir.rglob("*") if path.is_file()}
    assert {"audit.jsonl", "credentials.json"} <= set(files)
    return b"".join(content for name, content in files.items() if name != "credentials.json")


async def test_what_only_the_credential_store_knows_is_masked_in_audit_and_approvals(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `auth paymo` and `auth quickbooks` ran; the environment names only the company.
    store = open_credential_store(clean_environment, "file")
    store.save_paymo(PaymoCredentials(api_key=PAYMO_KEY, verified_at=NOW))
    store.save_qbo_app(
        QboAppCredentials(
            environment="sandbox",
            client_id="ABsecurityreview",
            client_secret=CLIENT_SECRET,
            redirect_uri="http://localhost:8765/callback",
        )
    )
    store.save_qbo_tokens(
        QboTokens(
            realm_id="9130",
            environment="sandbox",
            client_id="ABsecurityreview",
            access_token=QBO_TOKEN,
            access_token_expires_at=NOW + timedelta(hours=1),
            refresh_token=REFRESH_TOKEN,
            refresh_token_expires_at=NOW + timedelta(days=100),
            connected_at=NOW,
        )
    )
    monkeypatch.setenv("QBO_REALM_ID", "9130")
    settings = load_settings()
    connection = live_connection(settings)
    target = build_target(settings, connection)
    assert target.known_secrets == ()  # the settings hold no secret at all

    async with open_runtime(
        connection, policy=target.policy, data_dir=target.data_dir, known_secrets=target.known_secrets
    ) as runtime:
        pasted = f"{PAYMO_KEY} {QBO_TOKEN} {CLIENT_SECRET} {REFRESH_TOKEN}"
        runtime.audit.append("error", tool="sync_invoice", message=pasted, arguments={"note": pasted})
        runtime.approvals.create(
            "sync_invoice", {"note": pasted}, "ab" * 32, pasted, {}, runtime.now() + timedelta(minutes=5)
        )
    written = everything_but_the_credential_store(clean_environment)
    for secret in (PAYMO_KEY, QBO_TOKEN, CLIENT_SECRET, REFRESH_TOKEN):
        assert secret.encode() not in written
