"""`paymo-qb-mcp doctor`: every check against the sandbox emulators, with the failures a user meets and the
fixes the report gives for them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from intuit_oauth_support import REDIRECT, clear_settings_variables, openid_configuration_url, user_approves
from paymo_qb_mcp.cli import main
from paymo_qb_mcp.cli.doctor_cmd import CheckResult, render, run_checks
from paymo_qb_mcp.quickbooks.oauth import IntuitOAuthClient, OAuthApp, parse_redirect
from paymo_qb_mcp.sandbox.intuit_oauth import IntuitOAuthEmulator, serve_on_loopback
from paymo_qb_mcp.sandbox.paymo.emulator import PaymoEmulator
from paymo_qb_mcp.sandbox.quickbooks import DEFAULT_REALM_ID, QboEmulator
from paymo_qb_mcp.store.audit import AuditLog
from paymo_qb_mcp.store.tokens import QboAppCredentials, QboTokens, open_credential_store

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
REALM = DEFAULT_REALM_ID


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    clear_settings_variables(monkeypatch)
    directory = tmp_path / "data"
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(directory))
    monkeypatch.setenv("PAYMO_QB_TOKEN_STORE", "file")
    monkeypatch.setenv("QBO_ENVIRONMENT", "sandbox")
    return directory


@pytest.fixture
def paymo() -> PaymoEmulator:
    return PaymoEmulator(rate_limits="relaxed")


@pytest.fixture
def paymo_transport(paymo: PaymoEmulator) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=paymo.app)


@pytest.fixture
def qbo() -> QboEmulator:
    return QboEmulator(rate_limits="relaxed")


@pytest.fixture
def qbo_transport(qbo: QboEmulator) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=qbo.app)


@pytest.fixture
def connected_env(
    data_dir: Path, paymo: PaymoEmulator, qbo: QboEmulator, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Both services configured the sandbox way: Paymo key and a fixed QBO access token."""
    monkeypatch.setenv("PAYMO_API_KEY", paymo.api_key)
    monkeypatch.setenv("QBO_REALM_ID", REALM)
    monkeypatch.setenv("QBO_ACCESS_TOKEN", qbo.access_token)
    return data_dir


def by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.check: result for result in results}


def stored_tokens(
    *, refresh_expires: datetime, hard_expires: datetime | None, environment: str = "sandbox"
) -> QboTokens:
    return QboTokens(
        realm_id=REALM,
        environment=environment,
        client_id="ABdoctor",
        access_token="eyJ-doctor-access",
        access_token_expires_at=NOW + timedelta(hours=1),
        refresh_token="AB11-doctor-refresh",
        refresh_token_expires_at=refresh_expires,
        refresh_token_hard_expires_at=hard_expires,
        scopes=("com.intuit.quickbooks.accounting",),
        connected_at=NOW - timedelta(days=30),
    )


def accept_stored_token(qbo: QboEmulator) -> None:
    """Let the QBO emulator accept the access token `stored_tokens` saves (as Intuit issued it)."""
    qbo.token_realm = lambda token: REALM if token == "eyJ-doctor-access" else None


def save_connection(data_dir: Path, tokens: QboTokens) -> None:
    store = open_credential_store(data_dir, "file")
    store.save_qbo_app(
        QboAppCredentials(
            environment=tokens.environment,
            client_id=tokens.client_id,
            client_secret="doctor-secret",
            redirect_uri="http://localhost:8765/callback",
        )
    )
    store.save_qbo_tokens(tokens)


async def test_local_checks_and_paymo_pass_and_missing_quickbooks_says_how_to_connect(
    data_dir: Path,
    paymo: PaymoEmulator,
    paymo_transport: httpx.AsyncBaseTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYMO_API_KEY", paymo.api_key)
    results = by_check(await run_checks(paymo_transport=paymo_transport, now=lambda: NOW))
    assert results["settings"].status == "OK"
    assert results["data directory"].status == "OK"
    assert results["credential store"] == CheckResult(
        "credential store", "OK", f"file {data_dir / 'credentials.json'} (owner read/write only)"
    )
    assert results["policy"].status == "OK"
    assert "policies.yaml" in results["policy"].detail
    assert results["audit log"].detail.endswith("no entries yet")
    assert results["Paymo"].status == "OK"
    assert results["Paymo"].detail == "Alice Tremblay at Northwind Pixel Studio (bills in CAD)"
    assert results["QuickBooks tokens"].status == "FAIL"
    assert results["QuickBooks tokens"].fix == "run `paymo-qb-mcp auth quickbooks`"
    assert results["QuickBooks API"].status == "SKIP"


async def test_paymo_key_from_the_store_is_used_and_a_bad_key_fails(
    data_dir: Path, paymo: PaymoEmulator, paymo_transport: httpx.AsyncBaseTransport
) -> None:
    from paymo_qb_mcp.store.tokens import PaymoCredentials

    store = open_credential_store(data_dir, "file")
    store.save_paymo(PaymoCredentials(api_key=paymo.api_key, verified_at=NOW))
    assert by_check(await run_checks(paymo_transport=paymo_transport))["Paymo"].status == "OK"
    store.save_paymo(PaymoCredentials(api_key="not-a-key", verified_at=NOW))
    bad = by_check(await run_checks(paymo_transport=paymo_transport))["Paymo"]
    assert bad.status == "FAIL"
    assert "refused" in bad.detail
    assert bad.fix.startswith("run `paymo-qb-mcp auth paymo`")
    assert "not-a-key" not in bad.detail


async def test_no_paymo_key_at_all(data_dir: Path) -> None:
    result = by_check(await run_checks())["Paymo"]
    assert result.status == "FAIL"
    assert result.fix == "run `paymo-qb-mcp auth paymo`"


async def test_invalid_settings_fail_and_the_rest_is_skipped(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "staging")
    results = await run_checks()
    assert results[0].check == "settings"
    assert results[0].status == "FAIL"
    assert "QBO_ENVIRONMENT" in results[0].detail
    assert {r.status for r in results[1:]} == {"SKIP"}


def test_main_prints_the_table_and_exits_1_on_a_failure(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "staging")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["CHECK", "STATUS", "DETAIL"]
    assert "fix: fix the variables named" in out
    assert out.rstrip().endswith("1 FAIL, 7 SKIP.")


async def test_token_lifetimes_warn_ahead_and_fail_when_over(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, qbo: QboEmulator, qbo_transport: httpx.AsyncBaseTransport
) -> None:
    accept_stored_token(qbo)
    monkeypatch.setenv("QBO_REALM_ID", REALM)
    save_connection(
        data_dir,
        stored_tokens(refresh_expires=NOW + timedelta(days=90), hard_expires=NOW + timedelta(days=900)),
    )
    healthy = by_check(await run_checks(qbo_transport=qbo_transport, now=lambda: NOW))["QuickBooks tokens"]
    assert healthy.status == "OK"
    assert healthy.detail == (
        f"company {REALM} (sandbox); refresh token valid until 2027-01-31, reconnect by 2029-04-20"
    )

    save_connection(data_dir, stored_tokens(refresh_expires=NOW + timedelta(days=10), hard_expires=None))
    idle = by_check(await run_checks(qbo_transport=qbo_transport, now=lambda: NOW))["QuickBooks tokens"]
    assert idle.status == "WARN"
    assert "every refresh extends it" in idle.fix

    save_connection(
        data_dir,
        stored_tokens(refresh_expires=NOW + timedelta(days=90), hard_expires=NOW + timedelta(days=20)),
    )
    ending = by_check(await run_checks(qbo_transport=qbo_transport, now=lambda: NOW))["QuickBooks tokens"]
    assert ending.status == "WARN"
    assert "before 2026-11-22" in ending.fix

    save_connection(data_dir, stored_tokens(refresh_expires=NOW - timedelta(days=1), hard_expires=None))
    over = by_check(await run_checks(qbo_transport=qbo_transport, now=lambda: NOW))
    assert over["QuickBooks tokens"].status == "FAIL"
    assert over["QuickBooks API"].status == "SKIP"


async def test_tokens_for_the_other_environment_fail_with_both_fixes(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, qbo_transport: httpx.AsyncBaseTransport
) -> None:
    monkeypatch.setenv("QBO_REALM_ID", REALM)
    monkeypatch.setenv("QBO_ENVIRONMENT", "production")
    save_connection(data_dir, stored_tokens(refresh_expires=NOW + timedelta(days=90), hard_expires=None))
    result = by_check(await run_checks(qbo_transport=qbo_transport, now=lambda: NOW))["QuickBooks tokens"]
    assert result.status == "FAIL"
    assert result.fix == (
        "set QBO_ENVIRONMENT=sandbox, or run `paymo-qb-mcp auth quickbooks` --environment production"
    )


async def test_the_only_connected_company_is_used_with_a_warning(
    data_dir: Path, qbo: QboEmulator, qbo_transport: httpx.AsyncBaseTransport
) -> None:
    accept_stored_token(qbo)
    save_connection(data_dir, stored_tokens(refresh_expires=NOW + timedelta(days=90), hard_expires=None))
    result = by_check(await run_checks(qbo_transport=qbo_transport, now=lambda: NOW))["QuickBooks tokens"]
    assert result.status == "WARN"
    assert result.fix == f"set QBO_REALM_ID={REALM}"


async def test_a_tampered_audit_log_fails_naming_the_line(data_dir: Path) -> None:
    log = AuditLog.in_data_dir(data_dir)
    for n in range(3):
        log.append("plan", tool="sync_invoice", message=f"plan {n}")
    lines = log.path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace("plan 1", "plan X")
    log.path.write_text("".join(lines))
    result = by_check(await run_checks())["audit log"]
    assert result.status == "FAIL"
    assert "line 2" in result.detail
    assert "audit verify" in result.fix


async def test_a_broken_policy_fails_with_the_loader_message(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "policies.yaml"
    policy.write_text("version: 1\ndefault: maybe\n")
    monkeypatch.setenv("PAYMO_QB_POLICY", str(policy))
    result = by_check(await run_checks())["policy"]
    assert result.status == "FAIL"
    assert str(policy) in result.detail


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
async def test_loose_permissions_warn(
    data_dir: Path, qbo: QboEmulator, qbo_transport: httpx.AsyncBaseTransport
) -> None:
    accept_stored_token(qbo)
    save_connection(data_dir, stored_tokens(refresh_expires=NOW + timedelta(days=90), hard_expires=None))
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "credentials.json", 0o644)
    results = by_check(await run_checks(qbo_transport=qbo_transport, now=lambda: NOW))
    assert results["data directory"].status == "WARN"
    assert results["data directory"].fix == f"chmod 700 {data_dir}"
    assert results["credential store"].status == "WARN"
    assert results["credential store"].fix == f"chmod 600 {data_dir / 'credentials.json'}"
    assert stat.S_IMODE((data_dir / "credentials.json").stat().st_mode) == 0o644  # doctor only reports


async def test_an_unusable_data_directory_fails(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(blocker / "data"))
    results = by_check(await run_checks())
    assert results["data directory"].status == "FAIL"
    assert results["data directory"].fix == "point PAYMO_QB_DATA_DIR at a directory this user can write"
    assert results["credential store"].status == "SKIP"
    assert results["audit log"].status == "SKIP"


def test_render_puts_each_fix_under_its_problem() -> None:
    text = render(
        [
            CheckResult("settings", "OK", "fine"),
            CheckResult("QuickBooks API", "FAIL", "401", "run `paymo-qb-mcp auth quickbooks`"),
        ]
    )
    assert text.splitlines() == [
        "CHECK           STATUS  DETAIL",
        "settings        OK      fine",
        "QuickBooks API  FAIL    401",
        "                        fix: run `paymo-qb-mcp auth quickbooks`",
        "",
        "1 OK, 1 FAIL.",
    ]


async def test_everything_ok_against_the_sandboxes(
    connected_env: Path,
    qbo: QboEmulator,
    paymo_transport: httpx.AsyncBaseTransport,
    qbo_transport: httpx.AsyncBaseTransport,
) -> None:
    results = await run_checks(paymo_transport=paymo_transport, qbo_transport=qbo_transport, now=lambda: NOW)
    assert [(r.check, r.status) for r in results] == [
        ("settings", "OK"),
        ("data directory", "OK"),
        ("credential store", "OK"),
        ("policy", "OK"),
        ("audit log", "OK"),
        ("Paymo", "OK"),
        ("QuickBooks tokens", "OK"),
        ("QuickBooks API", "OK"),
        ("QuickBooks tax model", "OK"),
        ("QuickBooks currency", "OK"),
        ("policy mappings", "OK"),
    ]
    found = by_check(results)
    assert found["QuickBooks API"].detail == f"Northwind Pixel Studio Inc. (realm {REALM}, country CA)"
    assert found["QuickBooks tax model"].detail == "global tax model (CA): a TaxCode on every line"
    assert found["QuickBooks currency"].detail == "home currency CAD, multicurrency on; Paymo bills in CAD"
    assert qbo.access_token not in render(results)


async def test_rejected_quickbooks_token_fails_with_the_auth_fix(
    connected_env: Path,
    paymo_transport: httpx.AsyncBaseTransport,
    qbo: QboEmulator,
    qbo_transport: httpx.AsyncBaseTransport,
) -> None:
    qbo.expire_token()
    results = by_check(await run_checks(paymo_transport=paymo_transport, qbo_transport=qbo_transport))
    assert results["QuickBooks API"].status == "FAIL"
    assert results["QuickBooks API"].fix == "run `paymo-qb-mcp auth quickbooks`"
    assert results["QuickBooks tax model"].status == "SKIP"


async def test_global_company_without_tax_mappings_warns(
    connected_env: Path,
    tmp_path: Path,
    paymo_transport: httpx.AsyncBaseTransport,
    qbo_transport: httpx.AsyncBaseTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = tmp_path / "bare.yaml"
    policy.write_text("version: 1\ndefault: confirm\n")
    monkeypatch.setenv("PAYMO_QB_POLICY", str(policy))
    results = by_check(await run_checks(paymo_transport=paymo_transport, qbo_transport=qbo_transport))
    assert results["QuickBooks tax model"].status == "WARN"
    assert "--list-mappings" in results["QuickBooks tax model"].fix
    # The defaults the user never wrote ("Services", "Hours") exist in this company.
    assert results["policy mappings"].status == "OK"


async def test_us_company_on_automated_sales_tax(
    connected_env: Path,
    tmp_path: Path,
    paymo_transport: httpx.AsyncBaseTransport,
    qbo: QboEmulator,
    qbo_transport: httpx.AsyncBaseTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    qbo.state.company_info["Country"] = "US"
    qbo.state.preferences["TaxPrefs"]["PartnerTaxEnabled"] = True
    policy = tmp_path / "us.yaml"
    policy.write_text(
        "version: 1\nmappings:\n  tax:\n    exempt_code: {id: NON}\n    codes:\n"
        "      - {paymo_percents: ['8.875'], qbo_tax_code: {id: TAX}}\n"
    )
    monkeypatch.setenv("PAYMO_QB_POLICY", str(policy))
    results = by_check(await run_checks(paymo_transport=paymo_transport, qbo_transport=qbo_transport))
    assert results["QuickBooks tax model"].status == "OK"
    assert results["QuickBooks tax model"].detail.startswith("US automated sales tax")
    assert results["policy mappings"].status == "OK"  # TAX/NON are pseudo-codes, not listed TaxCodes
    qbo.state.preferences["TaxPrefs"]["PartnerTaxEnabled"] = False
    manual = by_check(await run_checks(paymo_transport=paymo_transport, qbo_transport=qbo_transport))
    assert manual["QuickBooks tax model"].status == "WARN"


async def test_paymo_currency_without_multicurrency_warns(
    connected_env: Path,
    paymo_transport: httpx.AsyncBaseTransport,
    qbo: QboEmulator,
    qbo_transport: httpx.AsyncBaseTransport,
) -> None:
    qbo.state.preferences["CurrencyPrefs"] = {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}}
    result = by_check(await run_checks(paymo_transport=paymo_transport, qbo_transport=qbo_transport))[
        "QuickBooks currency"
    ]
    assert result.status == "WARN"
    assert result.detail == (
        "home currency USD, multicurrency off, but Paymo bills in CAD: "
        "such invoices cannot be created in QuickBooks"
    )
    assert "multicurrency" in result.fix


async def test_mappings_naming_missing_or_inactive_records_fail(
    connected_env: Path,
    tmp_path: Path,
    paymo_transport: httpx.AsyncBaseTransport,
    qbo: QboEmulator,
    qbo_transport: httpx.AsyncBaseTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    qbo.state.tables["TaxCode"]["5"]["Active"] = False  # "Out of Scope", retired by the accountant
    policy = tmp_path / "wrong.yaml"
    policy.write_text(
        "version: 1\nmappings:\n  tax:\n    exempt_code: {name: exempt}\n    codes:\n"
        "      - {paymo_percents: ['5'], qbo_tax_code: {id: '99'}}\n"
        "      - {paymo_percents: ['7'], qbo_tax_code: Out of Scope}\n"
        "  expense_accounts:\n    default: {name: 'Car and Truck:Mileage'}\n"
        "  service_item: Consulting\n"
    )
    monkeypatch.setenv("PAYMO_QB_POLICY", str(policy))
    result = by_check(await run_checks(paymo_transport=paymo_transport, qbo_transport=qbo_transport))[
        "policy mappings"
    ]
    assert result.status == "FAIL"
    assert result.detail == (
        "tax code for 5% Id 99 is missing in QuickBooks; "
        "tax code for 7% 'Out of Scope' is inactive in QuickBooks; "
        "service item 'Consulting' is missing in QuickBooks"
    )


async def test_list_mappings_shows_what_the_policy_can_name(
    connected_env: Path, qbo: QboEmulator, qbo_transport: httpx.AsyncBaseTransport
) -> None:
    from paymo_qb_mcp.cli.doctor_cmd import list_mappings

    qbo.state.tables["TaxCode"]["5"]["Active"] = False  # inactive records are not offered
    text = await list_mappings(qbo_transport=qbo_transport)
    tax_codes, expense, paying, items, vendors, hint = text.split("\n\n")
    assert tax_codes.splitlines() == [
        "Tax codes — mappings.tax.codes[].qbo_tax_code and mappings.tax.exempt_code:",
        "  ID  NAME                SALES RATES",
        "  3   Exempt              Exempt 0%",
        "  1   GST                 GST 5%",
        "  2   GST/QST QC - 9.975  GST 5% + QST 9.975%",
        "  4   Zero-rated          Zero-rated 0%",
    ]
    assert "  13  Car and Truck:Mileage         Expense" in expense.splitlines()
    assert "Chequing" not in expense
    assert paying.splitlines()[2:] == ["  1   Chequing  Bank", "  5   Visa      Credit Card"]
    assert items.splitlines()[2:] == ["  2   Hours     Service", "  1   Services  Service"]
    assert vendors.splitlines()[2:] == ["  3   Adobe", "  2   Pixel Freelance Co.", "  1   Wayne Enterprises"]
    assert hint.startswith("In policies.yaml name a record by id, name or both")


def test_list_mappings_without_a_connection_says_how_to_connect(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--list-mappings"]) == 1
    assert "run `paymo-qb-mcp auth quickbooks`" in capsys.readouterr().err


@pytest.fixture
def intuit(qbo: QboEmulator) -> Iterator[tuple[IntuitOAuthEmulator, str]]:
    """Intuit's OAuth service on loopback, its access tokens accepted by the QBO emulator."""
    oauth = IntuitOAuthEmulator(realm_id=qbo.realm_id)
    oauth.register_app(client_id="ABdoctor", client_secret="doctor-secret", redirect_uris=[REDIRECT])
    qbo.token_realm = oauth.access_token_realm
    with serve_on_loopback(oauth.app) as base_url:
        yield oauth, openid_configuration_url(base_url)


async def test_oauth_connection_is_checked_refreshed_and_revocation_reported(
    data_dir: Path,
    intuit: tuple[IntuitOAuthEmulator, str],
    qbo_transport: httpx.AsyncBaseTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    oauth_emulator, discovery_url = intuit
    app = OAuthApp(
        client_id="ABdoctor",
        client_secret="doctor-secret",
        redirect_uri=REDIRECT,
        environment="sandbox",
        discovery_url=discovery_url,
    )
    oauth = IntuitOAuthClient(app)
    redirect = user_approves(await oauth.authorization_url("s"))
    tokens = await oauth.exchange_code(parse_redirect(redirect))
    store = open_credential_store(data_dir, "file")
    store.save_qbo_app(
        QboAppCredentials(
            environment="sandbox",
            client_id="ABdoctor",
            client_secret="doctor-secret",
            redirect_uri=REDIRECT,
            discovery_url=discovery_url,
        )
    )
    store.save_qbo_tokens(tokens)
    monkeypatch.setenv("QBO_REALM_ID", tokens.realm_id)

    first = by_check(await run_checks(qbo_transport=qbo_transport))
    assert first["QuickBooks tokens"].status == "OK"
    assert first["QuickBooks API"].status == "OK"
    assert oauth_emulator.token_calls("refresh_token") == 0

    oauth_emulator.expire_access_tokens()  # QBO now answers 401: doctor's calls refresh once
    assert by_check(await run_checks(qbo_transport=qbo_transport))["QuickBooks API"].status == "OK"
    assert oauth_emulator.token_calls("refresh_token") == 1
    saved = store.load_qbo_tokens(tokens.realm_id)
    assert saved is not None
    assert oauth_emulator.access_token_realm(saved.access_token) == tokens.realm_id

    oauth_emulator.revoke_realm()  # the user disconnected the app in QuickBooks
    revoked = by_check(await run_checks(qbo_transport=qbo_transport))["QuickBooks API"]
    assert revoked.status == "FAIL"
    assert "Run `paymo-qb-mcp auth quickbooks` again" in revoked.detail
    assert revoked.fix == "run `paymo-qb-mcp auth quickbooks`"


async def test_mappings_whose_id_and_name_disagree_or_name_unknown_workers_fail(
    connected_env: Path,
    tmp_path: Path,
    paymo_transport: httpx.AsyncBaseTransport,
    qbo_transport: httpx.AsyncBaseTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = tmp_path / "mixed.yaml"
    policy.write_text(
        "version: 1\nmappings:\n  tax:\n    exempt_code: {id: '3', name: Exempt}\n    codes:\n"
        "      - {paymo_percents: ['5'], qbo_tax_code: {id: '2', name: GST}}\n"
        "  payment_deposit_account: {name: Petty Cash}\n"
        "  time_activities:\n    users: {3: {name: Chloé Gagnon}}\n"
    )
    monkeypatch.setenv("PAYMO_QB_POLICY", str(policy))
    result = by_check(await run_checks(paymo_transport=paymo_transport, qbo_transport=qbo_transport))[
        "policy mappings"
    ]
    assert result.status == "FAIL"
    assert result.detail == (
        "tax code for 5% 'GST' (Id 2) is named 'GST/QST QC - 9.975', not 'GST', in QuickBooks; "
        "payment deposit account 'Petty Cash' is missing in QuickBooks; "
        "time activity worker for Paymo user 3 'Chloé Gagnon' is missing in QuickBooks"
    )
