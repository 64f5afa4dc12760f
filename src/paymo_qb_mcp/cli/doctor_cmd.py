"""The `doctor` command: checks configuration, credentials, both APIs, the QBO company's tax and currency
set-up, the policy and its mappings, the data directory and the audit chain; prints check / status / detail /
fix; exits non-zero on any FAIL. `--list-mappings` prints the QBO records a policy's `mappings` can name."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from paymo_qb_mcp.errors import AuthError, ConfigError, PaymoQbError, ReauthorizationRequired

if TYPE_CHECKING:
    import httpx

    from paymo_qb_mcp.config.policy import Policy, QboRef
    from paymo_qb_mcp.config.settings import Settings
    from paymo_qb_mcp.quickbooks import (
        Account,
        CompanyInfo,
        Employee,
        Item,
        Preferences,
        TaxCode,
        TaxRate,
        Vendor,
    )
    from paymo_qb_mcp.quickbooks.tokens import TokenProvider
    from paymo_qb_mcp.store.tokens import CredentialStore

Status = Literal["OK", "WARN", "FAIL", "SKIP"]

# Warn this long before Intuit's limits so there is time to reconnect calmly.
REFRESH_TOKEN_WARNING = timedelta(days=14)
HARD_EXPIRY_WARNING = timedelta(days=30)
EXPENSE_ACCOUNT_TYPES = ("Expense", "Other Expense", "Cost of Goods Sold")
PAYMENT_ACCOUNT_TYPES = ("Bank", "Credit Card")
US_PSEUDO_TAX_CODES = ("TAX", "NON")
AUTH_QUICKBOOKS = "run `paymo-qb-mcp auth quickbooks`"
AUTH_PAYMO = "run `paymo-qb-mcp auth paymo`"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check configuration, credentials, both APIs, the policy and the audit log",
        description="Runs every check and prints what is wrong and how to fix it; "
        "exits 1 if any check fails.",
    )
    parser.add_argument(
        "--list-mappings",
        action="store_true",
        help="list the QuickBooks tax codes, accounts, items and vendors for the policy's `mappings` section",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import anyio

    if args.list_mappings:
        try:
            print(anyio.run(list_mappings))
        except PaymoQbError as exc:
            print(f"paymo-qb-mcp doctor: {exc}", file=sys.stderr)
            return 1
        return 0
    results = anyio.run(run_checks)
    print(render(results))
    return 1 if any(result.status == "FAIL" for result in results) else 0


@dataclass(frozen=True)
class CheckResult:
    """One line of the report."""

    check: str
    status: Status
    detail: str
    fix: str = ""


def render(results: Sequence[CheckResult]) -> str:
    """A readable table: check, status, detail, and the fix on its own line under a problem."""
    width = max([len("CHECK"), *(len(r.check) for r in results)])
    lines = [f"{'CHECK':<{width}}  STATUS  DETAIL"]
    for result in results:
        lines.append(f"{result.check:<{width}}  {result.status:<6}  {result.detail}")
        if result.fix:
            lines.append(f"{'':<{width}}          fix: {result.fix}")
    counts = {status: sum(r.status == status for r in results) for status in ("OK", "WARN", "FAIL", "SKIP")}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    lines.append("")
    lines.append(f"{summary}." if summary else "nothing checked.")
    return "\n".join(lines)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


@dataclass
class QboLists:
    """The QBO records a policy's mappings can name (inactive ones too, to tell "inactive" from "absent")."""

    tax_codes: list[TaxCode] = field(default_factory=list)
    tax_rates: list[TaxRate] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    vendors: list[Vendor] = field(default_factory=list)
    employees: list[Employee] = field(default_factory=list)


class Doctor:
    """Runs the checks in order; later checks use what earlier ones found (settings, store, policy...)."""

    def __init__(
        self,
        *,
        settings_loader: Callable[[], Settings] | None = None,
        paymo_transport: httpx.AsyncBaseTransport | None = None,
        qbo_transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._settings_loader = settings_loader
        self._paymo_transport = paymo_transport
        self._qbo_transport = qbo_transport
        self._now = now
        self.results: list[CheckResult] = []

    def _add(self, check: str, status: Status, detail: str, fix: str = "") -> None:
        self.results.append(CheckResult(check, status, detail, fix))

    def _skip(self, checks: Iterable[str], because: str) -> None:
        for check in checks:
            self._add(check, "SKIP", f"not checked: {because}")

    async def run(self) -> list[CheckResult]:
        settings = self._check_settings()
        if settings is None:
            self._skip(
                (
                    "data directory",
                    "credential store",
                    "policy",
                    "audit log",
                    "Paymo",
                    "QuickBooks tokens",
                    "QuickBooks API",
                ),
                "the settings are invalid",
            )
            return self.results
        data_dir_ok = self._check_data_dir(settings)
        store = self._check_store(settings) if data_dir_ok else None
        if not data_dir_ok:
            self._skip(("credential store",), "the data directory is unusable")
        policy = self._check_policy(settings)
        if data_dir_ok:
            self._check_audit(settings)
        else:
            self._skip(("audit log",), "the data directory is unusable")
        paymo_currency = await self._check_paymo(settings, store)
        await self._check_quickbooks(settings, store, policy, paymo_currency)
        return self.results

    # ------------------------------------------------------------------ local checks

    def _check_settings(self) -> Settings | None:
        try:
            if self._settings_loader is not None:
                settings = self._settings_loader()
            else:
                from paymo_qb_mcp.config.settings import load_settings

                settings = load_settings()
        except ConfigError as exc:
            self._add(
                "settings", "FAIL", str(exc), "fix the variables named (environment or PAYMO_QB_CONFIG file)"
            )
            return None
        sandbox = _is_loopback(settings.paymo_base_url) or _is_loopback(settings.qbo_base_url)
        detail = f"QBO_ENVIRONMENT={settings.qbo_environment}" + (
            "; APIs on this machine (sandbox)" if sandbox else ""
        )
        self._add("settings", "OK", detail)
        return settings

    def _check_data_dir(self, settings: Settings) -> bool:
        try:
            directory = settings.ensure_data_dir()
            with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-", delete=True) as probe:
                probe.write(b"ok")
                probe.flush()
        except (ConfigError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            self._add(
                "data directory",
                "FAIL",
                f"{settings.data_dir} is not writable ({reason})",
                "point PAYMO_QB_DATA_DIR at a directory this user can write",
            )
            return False
        mode = stat.S_IMODE(directory.stat().st_mode)
        if os.name == "posix" and mode & 0o077:
            self._add(
                "data directory",
                "WARN",
                f"{directory} is writable but readable by other users (mode {mode:o})",
                f"chmod 700 {directory}",
            )
        else:
            self._add("data directory", "OK", f"{directory} (writable)")
        return True

    def _check_store(self, settings: Settings) -> CredentialStore | None:
        from paymo_qb_mcp.cli.auth_cmd import open_store
        from paymo_qb_mcp.store.tokens import FileSecrets

        try:
            store = open_store(settings)
        except PaymoQbError as exc:
            self._add("credential store", "FAIL", str(exc), "see the message; then re-run the auth commands")
            return None
        backend = store.backend
        if isinstance(backend, FileSecrets) and backend.path.exists() and os.name == "posix":
            mode = stat.S_IMODE(backend.path.stat().st_mode)
            if mode & 0o077:
                self._add(
                    "credential store",
                    "WARN",
                    f"{backend.path} can be read by other users (mode {mode:o})",
                    f"chmod 600 {backend.path}",
                )
                return store
        self._add("credential store", "OK", store.describe())
        return store

    def _check_policy(self, settings: Settings) -> Policy | None:
        from paymo_qb_mcp.config.policy import load_policy

        try:
            path = settings.policy_path()
            policy = load_policy(path)
        except ConfigError as exc:
            self._add("policy", "FAIL", str(exc), "correct the file (the message names the rule and field)")
            return None
        rules = len(policy.rules)
        self._add(
            "policy", "OK", f"{path}: {rules} rule{'s' if rules != 1 else ''}, default {policy.default}"
        )
        return policy

    def _check_audit(self, settings: Settings) -> None:
        from paymo_qb_mcp.store.audit import AUDIT_FILE_NAME, verify

        path = settings.data_dir / AUDIT_FILE_NAME
        try:
            result = verify(path)
        except OSError as exc:
            self._add(
                "audit log", "FAIL", f"{path} cannot be read ({exc.strerror})", "check the file's permissions"
            )
            return
        if result.ok:
            detail = (
                f"{path}: {result.entries} entries, chain intact"
                if result.entries
                else f"{path}: no entries yet"
            )
            self._add("audit log", "OK", detail)
        else:
            self._add(
                "audit log",
                "FAIL",
                f"{path} line {result.first_bad_line}: {result.reason}",
                "keep the file for investigation (`paymo-qb-mcp audit verify` shows the same); "
                "move it aside to start a new chain",
            )

    # ------------------------------------------------------------------ Paymo

    async def _check_paymo(self, settings: Settings, store: CredentialStore | None) -> str | None:
        from paymo_qb_mcp.paymo import PaymoClient

        api_key: str | None = None
        if settings.paymo_api_key is not None:
            api_key = settings.paymo_api_key.get_secret_value()
        elif store is not None:
            try:
                saved = store.load_paymo()
            except PaymoQbError as exc:
                self._add("Paymo", "FAIL", str(exc), AUTH_PAYMO)
                return None
            api_key = saved.api_key if saved is not None else None
        if api_key is None:
            self._add("Paymo", "FAIL", "no API key: PAYMO_API_KEY is not set and none is stored", AUTH_PAYMO)
            return None
        try:
            async with PaymoClient(
                base_url=settings.paymo_base_url, api_key=api_key, transport=self._paymo_transport
            ) as paymo:
                me = await paymo.me()
                company = await paymo.company()
        except AuthError as exc:
            self._add("Paymo", "FAIL", str(exc), AUTH_PAYMO + " with a valid key")
            return None
        except PaymoQbError as exc:
            self._add(
                "Paymo", "FAIL", str(exc), f"check the network and PAYMO_BASE_URL ({settings.paymo_base_url})"
            )
            return None
        where = f" at {settings.paymo_base_url}" if _is_loopback(settings.paymo_base_url) else ""
        currency = company.default_currency
        self._add(
            "Paymo",
            "OK",
            f"{me.name or 'key owner'} at {company.name or 'the company'}"
            f"{f' (bills in {currency})' if currency else ''}{where}",
        )
        return currency

    # ------------------------------------------------------------------ QuickBooks

    def _qbo_token_provider(
        self, settings: Settings, store: CredentialStore | None
    ) -> tuple[TokenProvider, str] | None:
        """The token source for the API checks, after checking what is stored; None when there is none."""
        from paymo_qb_mcp.cli.auth_cmd import qbo_token_provider
        from paymo_qb_mcp.quickbooks import StaticTokenProvider

        check = "QuickBooks tokens"
        realm_id = settings.qbo_realm_id
        if settings.qbo_access_token is not None:
            if realm_id is None:
                self._add(
                    check, "FAIL", "QBO_ACCESS_TOKEN is set but QBO_REALM_ID is not", "set QBO_REALM_ID"
                )
                return None
            self._add(
                check, "OK", "QBO_ACCESS_TOKEN (a fixed token that cannot be refreshed: fine for the sandbox)"
            )
            return StaticTokenProvider(settings.qbo_access_token), realm_id
        if store is None:
            self._add(check, "FAIL", "the credential store is unusable", "fix the credential store first")
            return None
        try:
            realms = store.qbo_realms()
            if realm_id is None:
                if len(realms) != 1:
                    listed = ", ".join(realms) if realms else "none connected"
                    self._add(
                        check,
                        "FAIL",
                        f"QBO_REALM_ID is not set (stored companies: {listed})",
                        AUTH_QUICKBOOKS,
                    )
                    return None
                realm_id = realms[0]
                note = f"; QBO_REALM_ID is not set, so the only connected company {realm_id} is used"
            else:
                note = ""
            tokens = store.load_qbo_tokens(realm_id)
        except PaymoQbError as exc:
            self._add(check, "FAIL", str(exc), AUTH_QUICKBOOKS)
            return None
        if tokens is None:
            stored = f" (stored: {', '.join(realms)})" if realms else ""
            self._add(check, "FAIL", f"no tokens for company {realm_id}{stored}", AUTH_QUICKBOOKS)
            return None
        if tokens.environment != settings.qbo_environment:
            self._add(
                check,
                "FAIL",
                f"the tokens for company {realm_id} are for {tokens.environment}, "
                f"but QBO_ENVIRONMENT is {settings.qbo_environment}",
                f"set QBO_ENVIRONMENT={tokens.environment}, or {AUTH_QUICKBOOKS} --environment "
                f"{settings.qbo_environment}",
            )
            return None
        now = self._now()
        hard = tokens.refresh_token_hard_expires_at
        status: Status = "OK"
        fix = ""
        if (hard is not None and now >= hard) or now >= tokens.refresh_token_expires_at:
            self._add(check, "FAIL", f"the refresh token for company {realm_id} has expired", AUTH_QUICKBOOKS)
            return None
        detail = (
            f"company {realm_id} ({tokens.environment}); "
            f"refresh token valid until {_when(tokens.refresh_token_expires_at)}"
        )
        if hard is not None:
            detail += f", reconnect by {_when(hard)}"
        if tokens.refresh_token_expires_at - now < REFRESH_TOKEN_WARNING:
            status, fix = "WARN", "use the server (every refresh extends it) or " + AUTH_QUICKBOOKS
        if hard is not None and hard - now < HARD_EXPIRY_WARNING:
            status, fix = "WARN", f"{AUTH_QUICKBOOKS} before {_when(hard)} (Intuit's 5-year limit)"
        try:
            provider = qbo_token_provider(settings, store, realm_id)
        except ConfigError as exc:
            self._add(check, "FAIL", f"{detail}; but the tokens cannot be refreshed: {exc}", AUTH_QUICKBOOKS)
            return None
        if note and status == "OK":
            status, fix = "WARN", f"set QBO_REALM_ID={realm_id}"
        self._add(check, status, detail + note, fix)
        return provider, realm_id

    async def _check_quickbooks(
        self,
        settings: Settings,
        store: CredentialStore | None,
        policy: Policy | None,
        paymo_currency: str | None,
    ) -> None:
        from paymo_qb_mcp.quickbooks import QboClient

        later = ("QuickBooks tax model", "QuickBooks currency", "policy mappings")
        found = self._qbo_token_provider(settings, store)
        if found is None:
            self._skip(("QuickBooks API", *later), "no usable QuickBooks tokens")
            return
        provider, realm_id = found
        try:
            async with QboClient(
                base_url=settings.qbo_base_url,
                realm_id=realm_id,
                token_provider=provider,
                transport=self._qbo_transport,
            ) as qbo:
                info = await qbo.company_info()
                preferences = await qbo.preferences()
                lists = await fetch_lists(qbo) if policy is not None else None
        except (ReauthorizationRequired, AuthError) as exc:
            self._add("QuickBooks API", "FAIL", str(exc), AUTH_QUICKBOOKS)
            self._skip(later, "the QuickBooks API did not answer")
            return
        except PaymoQbError as exc:
            self._add(
                "QuickBooks API",
                "FAIL",
                str(exc),
                f"check the network, QBO_BASE_URL and QBO_REALM_ID ({realm_id})",
            )
            self._skip(later, "the QuickBooks API did not answer")
            return
        where = f" at {settings.qbo_base_url}" if _is_loopback(settings.qbo_base_url) else ""
        self._add(
            "QuickBooks API",
            "OK",
            f"{info.CompanyName or 'company'} (realm {realm_id}, country {info.Country or 'unknown'}){where}",
        )
        self._check_tax_model(info, preferences, policy)
        self._check_currency(preferences, paymo_currency)
        if policy is None or lists is None:
            self._skip(("policy mappings",), "the policy did not load")
        else:
            self._check_mappings(policy, lists, us_company=(info.Country or "").upper() == "US")

    def _check_tax_model(self, info: CompanyInfo, preferences: Preferences, policy: Policy | None) -> None:
        check = "QuickBooks tax model"
        prefs = preferences.TaxPrefs
        automated = bool(prefs and prefs.PartnerTaxEnabled)
        country = (info.Country or "").upper()
        if country == "US":
            if automated:
                self._add(
                    check, "OK", "US automated sales tax (QBO computes tax from addresses; TAX/NON on lines)"
                )
            else:
                self._add(
                    check,
                    "WARN",
                    "US company without automated sales tax (PartnerTaxEnabled false): lines use TAX/NON and "
                    "QBO's manual rate; this set-up is not exercised by the sandbox",
                    "turn on automated sales tax in QuickBooks (Taxes → Sales tax) "
                    "if the company collects tax",
                )
            return
        model = f"global tax model ({country or 'non-US'}): a TaxCode on every line"
        if policy is not None and not policy.mappings.tax.codes:
            self._add(
                check,
                "WARN",
                f"{model}, but policies.yaml maps no Paymo tax rate to a tax code",
                "fill mappings.tax.codes (and exempt_code); "
                "`paymo-qb-mcp doctor --list-mappings` lists the codes",
            )
        elif policy is not None and policy.mappings.tax.exempt_code is None:
            self._add(
                check,
                "WARN",
                f"{model}, but mappings.tax.exempt_code is not set (untaxed lines need a code too)",
                "set mappings.tax.exempt_code (e.g. Exempt or Zero-rated)",
            )
        else:
            self._add(check, "OK", model)

    def _check_currency(self, preferences: Preferences, paymo_currency: str | None) -> None:
        from paymo_qb_mcp.domain.money import normalize_currency

        check = "QuickBooks currency"
        prefs = preferences.CurrencyPrefs
        home = prefs.HomeCurrency.value if prefs and prefs.HomeCurrency else None
        multicurrency = bool(prefs and prefs.MultiCurrencyEnabled)
        detail = f"home currency {home or 'unknown'}, multicurrency {'on' if multicurrency else 'off'}"
        if paymo_currency is None:
            self._add(check, "OK", detail + " (Paymo's currency was not checked)")
            return
        try:
            paymo_iso = normalize_currency(paymo_currency)
        except PaymoQbError as exc:
            self._add(
                check, "WARN", f"{detail}; Paymo's default currency: {exc}", "fix the currency in Paymo"
            )
            return
        if home is not None and paymo_iso != home and not multicurrency:
            self._add(
                check,
                "WARN",
                f"{detail}, but Paymo bills in {paymo_iso}: such invoices cannot be created in QuickBooks",
                "turn on multicurrency in QuickBooks (Settings → Advanced → Currency; "
                "it cannot be turned off)",
            )
            return
        self._add(check, "OK", f"{detail}; Paymo bills in {paymo_iso}")

    def _check_mappings(self, policy: Policy, lists: QboLists, *, us_company: bool) -> None:
        problems: list[tuple[Status, str]] = []
        explicit = policy.mappings.model_fields_set
        for label, ref, candidates, was_set in _mapping_references(policy, lists):
            # Under US automated sales tax, lines carry the pseudo-codes TAX/NON, not listed TaxCodes.
            if us_company and candidates is lists.tax_codes and ref.id in US_PSEUDO_TAX_CODES:
                continue
            state = _resolve(ref, candidates)
            if state == "found":
                continue
            # A default the user never wrote (e.g. item "Services") only warns; a written one fails.
            status: Status = "FAIL" if was_set(explicit) else "WARN"
            problems.append((status, f"{label} {ref.describe()} is {state} in QuickBooks"))
        if not problems:
            self._add(
                "policy mappings", "OK", "every QuickBooks record the policy names exists and is active"
            )
            return
        worst: Status = "FAIL" if any(status == "FAIL" for status, _ in problems) else "WARN"
        self._add(
            "policy mappings",
            worst,
            "; ".join(text for _, text in problems),
            "correct policies.yaml `mappings`; `paymo-qb-mcp doctor --list-mappings` lists what exists",
        )


def _display_name(record: Any) -> str | None:
    name = getattr(record, "DisplayName", None) or getattr(record, "Name", None)
    return str(name) if name is not None else None


def _resolve(ref: QboRef, candidates: Sequence[Any]) -> str:
    """'found', 'missing' or 'inactive'. Ids match exactly; names ignore case (GUESS: QBO names are unique
    case-insensitively, as its duplicate-name check is) and may be the full `Parent:Child` name."""
    for record in candidates:
        names = {
            n.casefold() for n in (_display_name(record), getattr(record, "FullyQualifiedName", None)) if n
        }
        if (ref.id and record.Id == ref.id) or (not ref.id and ref.name and ref.name.casefold() in names):
            if ref.id and ref.name and ref.name.casefold() not in names:
                # Both given but they disagree: the id would be used, probably not what was meant.
                return f"named {_display_name(record)!r}, not {ref.name!r},"
            return "inactive" if record.Active is False else "found"
    return "missing"


MappingReference = tuple[str, "QboRef", Sequence[Any], Callable[[set[str]], bool]]


def _mapping_references(policy: Policy, lists: QboLists) -> list[MappingReference]:
    mappings = policy.mappings
    always: Callable[[set[str]], bool] = lambda fields: True  # noqa: E731 - a section the user wrote
    references: list[MappingReference] = []
    for mapping in mappings.tax.codes:
        percents = " + ".join(f"{p}%" for p in mapping.paymo_percents) or "no tax"
        references.append((f"tax code for {percents}", mapping.qbo_tax_code, lists.tax_codes, always))
    if mappings.tax.exempt_code is not None:
        references.append(("exempt tax code", mappings.tax.exempt_code, lists.tax_codes, always))
    if mappings.expense_accounts is not None:
        for tag, ref in mappings.expense_accounts.by_tag.items():
            references.append((f"expense account for tag {tag!r}", ref, lists.accounts, always))
        references.append(
            ("default expense account", mappings.expense_accounts.default, lists.accounts, always)
        )
    target = mappings.expense_target
    if target is not None and target.payment_account is not None:
        references.append(("expense payment account", target.payment_account, lists.accounts, always))
    if target is not None and target.vendor is not None:
        references.append(("expense vendor", target.vendor, lists.vendors, always))
    if mappings.purchase_order_vendor is not None:
        references.append(("purchase order vendor", mappings.purchase_order_vendor, lists.vendors, always))
    if mappings.payment_deposit_account is not None:
        references.append(
            ("payment deposit account", mappings.payment_deposit_account, lists.accounts, always)
        )
    workers = lists.employees if mappings.time_activities.name_of == "Employee" else lists.vendors
    for user_id, ref in mappings.time_activities.users.items():
        references.append((f"time activity worker for Paymo user {user_id}", ref, workers, always))
    references.append(
        ("service item", mappings.service_item, lists.items, lambda fields: "service_item" in fields)
    )
    references.append(
        (
            "time activity item",
            mappings.time_activities.item,
            lists.items,
            lambda fields: "time_activities" in fields,
        )
    )
    return references


async def fetch_lists(qbo: Any) -> QboLists:
    """Tax codes and rates, accounts, items, vendors and employees, inactive ones included."""
    from paymo_qb_mcp.quickbooks import Account, Employee, Item, TaxCode, TaxRate, Vendor
    from paymo_qb_mcp.quickbooks.query import ACTIVE_OR_INACTIVE

    everything = ACTIVE_OR_INACTIVE
    return QboLists(
        tax_codes=await qbo.query_all(TaxCode, everything),
        tax_rates=await qbo.query_all(TaxRate, everything),
        accounts=await qbo.query_all(Account, everything),
        items=await qbo.query_all(Item, everything),
        vendors=await qbo.query_all(Vendor, everything),
        employees=await qbo.query_all(Employee, everything),
    )


async def run_checks(
    *,
    settings_loader: Callable[[], Settings] | None = None,
    paymo_transport: httpx.AsyncBaseTransport | None = None,
    qbo_transport: httpx.AsyncBaseTransport | None = None,
    now: Callable[[], datetime] = _utc_now,
) -> list[CheckResult]:
    """Every check, in order. Transports and the clock are seams for tests and the in-process sandbox."""
    doctor = Doctor(
        settings_loader=settings_loader, paymo_transport=paymo_transport, qbo_transport=qbo_transport, now=now
    )
    return await doctor.run()


# ---------------------------------------------------------------------- --list-mappings


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  " + "  ".join(f"{h:<{w}}" for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  " + "  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return lines if rows else [*lines, "  (none)"]


def render_mappings(lists: QboLists) -> str:
    """The active QBO records, grouped by the `mappings` field they can fill (Ids and exact names)."""
    rates = {rate.Id: rate for rate in lists.tax_rates}

    def code_rates(code: TaxCode) -> str:
        details = code.SalesTaxRateList.TaxRateDetail if code.SalesTaxRateList else None
        parts = []
        for detail in details or []:
            rate = rates.get(detail.TaxRateRef.value if detail.TaxRateRef else None)
            if rate is not None:
                parts.append(f"{rate.Name} {rate.RateValue}%")
        return " + ".join(parts) or "-"

    def active(records: Iterable[Any]) -> list[Any]:
        def shown_name(record: Any) -> str:
            return (getattr(record, "FullyQualifiedName", None) or _display_name(record) or "").casefold()

        return sorted((r for r in records if r.Active is not False), key=shown_name)

    lines = ["Tax codes — mappings.tax.codes[].qbo_tax_code and mappings.tax.exempt_code:"]
    lines += _table(
        ("ID", "NAME", "SALES RATES"),
        [(c.Id or "", c.Name or "", code_rates(c)) for c in active(lists.tax_codes)],
    )
    lines += ["", "Expense accounts — mappings.expense_accounts (by_tag, default):"]
    expense = [a for a in active(lists.accounts) if a.AccountType in EXPENSE_ACCOUNT_TYPES]
    lines += _table(
        ("ID", "NAME", "TYPE"),
        [(a.Id or "", a.FullyQualifiedName or a.Name or "", a.AccountType or "") for a in expense],
    )
    lines += ["", "Payment accounts — mappings.expense_target.payment_account:"]
    paying = [a for a in active(lists.accounts) if a.AccountType in PAYMENT_ACCOUNT_TYPES]
    lines += _table(
        ("ID", "NAME", "TYPE"),
        [(a.Id or "", a.FullyQualifiedName or a.Name or "", a.AccountType or "") for a in paying],
    )
    lines += ["", "Items — mappings.service_item and mappings.time_activities.item:"]
    lines += _table(
        ("ID", "NAME", "TYPE"),
        [(i.Id or "", i.FullyQualifiedName or i.Name or "", i.Type or "") for i in active(lists.items)],
    )
    lines += ["", "Vendors — mappings.expense_target.vendor and mappings.purchase_order_vendor:"]
    lines += _table(("ID", "NAME"), [(v.Id or "", v.DisplayName or "") for v in active(lists.vendors)])
    lines += ["", 'In policies.yaml name a record by id, name or both, e.g. {id: "7", name: GST}.']
    return "\n".join(lines)


async def list_mappings(
    *,
    settings_loader: Callable[[], Settings] | None = None,
    qbo_transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """Connect to QuickBooks as the checks do and render what `mappings` can name; errors say how to fix."""
    from paymo_qb_mcp.cli.auth_cmd import open_store
    from paymo_qb_mcp.config.settings import load_settings
    from paymo_qb_mcp.quickbooks import QboClient

    settings = (settings_loader or load_settings)()
    doctor = Doctor(settings_loader=lambda: settings, qbo_transport=qbo_transport)
    store = open_store(settings) if settings.qbo_access_token is None else None
    found = doctor._qbo_token_provider(settings, store)
    if found is None:
        problem = doctor.results[-1]
        raise ConfigError(f"{problem.detail}; {problem.fix}" if problem.fix else problem.detail)
    provider, realm_id = found
    async with QboClient(
        base_url=settings.qbo_base_url, realm_id=realm_id, token_provider=provider, transport=qbo_transport
    ) as qbo:
        lists = await fetch_lists(qbo)
    return render_mappings(lists)
