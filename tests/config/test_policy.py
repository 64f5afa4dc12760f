"""policies.yaml: shipped files load, each `when` key decides, first match wins, bad files name rule+field."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymo_qb_mcp.config.policy import (
    OPERATIONS,
    PlanFacts,
    Policy,
    QboRef,
    load_policy,
    parse_duration,
)
from paymo_qb_mcp.config.settings import shipped_policy_path
from paymo_qb_mcp.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
NOV = date(2026, 11, 3)


def policy(text: str) -> Policy:
    return Policy.from_yaml(text, source="test.yaml")


def one_rule(when: str, *, effect: str = "deny", default: str = "allow") -> Policy:
    return policy(
        f"version: 1\ndefault: {default}\nrules:\n  - {{name: under test, when: {when}, effect: {effect}}}\n"
    )


# --- the shipped default and the examples ---------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Policy:
    return load_policy(shipped_policy_path())


def test_shipped_default_is_the_repository_root_file(shipped: Policy) -> None:
    assert shipped_policy_path().resolve() == (REPO / "policies.yaml").resolve()
    assert shipped.default == "confirm"
    assert shipped.limits.writes_per_minute == 30
    assert shipped.approvals.expire_after == timedelta(minutes=15)
    assert shipped.approvals.max_pending_per_tool == 20


@pytest.mark.parametrize(
    ("tool", "facts", "effect", "rule"),
    [
        ("find_client_match", PlanFacts("read"), "allow", "matching and reads are free"),
        ("find_client_match", PlanFacts("link"), "allow", "matching and reads are free"),
        # INV-2026-1040: 1 × 8 500 + 12 × 150, draft → a human confirms.
        (
            "sync_invoice",
            PlanFacts("create", Decimal("11845.73"), frozenset({"CAD"}), txn_dates=(NOV,)),
            "confirm",
            "large invoices need a human",
        ),
        # INV-2026-1042, dated 2025-12-15: QBO's books are closed.
        (
            "sync_invoice",
            PlanFacts("create", Decimal("1200.00"), frozenset({"CAD"}), txn_dates=(date(2025, 12, 15),)),
            "deny",
            "closed books",
        ),
        # Closed books beats the customer rule: it is listed first.
        (
            "find_client_match",
            PlanFacts("create", creates_customer=True, txn_dates=(date(2025, 12, 31),)),
            "deny",
            "closed books",
        ),
        (
            "find_client_match",
            PlanFacts("create", creates_customer=True),
            "confirm",
            "new customers need a human",
        ),
        ("sync_invoice", PlanFacts("create", Decimal("4999.99"), txn_dates=(NOV,)), "confirm", None),
        ("mark_paid", PlanFacts("create", Decimal("9000.00"), txn_dates=(NOV,)), "confirm", None),
    ],
)
def test_shipped_default_decides_the_demo_cases(
    shipped: Policy, tool: str, facts: PlanFacts, effect: str, rule: str | None
) -> None:
    decision = shipped.decide(tool, facts)
    assert (decision.effect, decision.rule_name) == (effect, rule)


def test_shipped_decision_explains_itself(shipped: Policy) -> None:
    decision = shipped.decide("sync_invoice", PlanFacts("create", Decimal("8500.00"), txn_dates=(NOV,)))
    assert (
        decision.reason == "rule 'large invoices need a human': tool sync_invoice; amount 8500.00 ≥ 5000.00"
    )
    fallback = shipped.decide("push_expenses", PlanFacts("create", Decimal("12.00"), txn_dates=(NOV,)))
    assert fallback.reason == "no rule matched; the default is confirm"


def test_shipped_mappings_fit_the_demo_company(shipped: Policy) -> None:
    tax = shipped.mappings.tax
    assert tax.code_for([Decimal("5"), Decimal("9.975")]) == QboRef(id="2", name="GST/QST QC - 9.975")
    assert tax.code_for([Decimal("5.000"), Decimal("0")]) == QboRef(id="1", name="GST")
    assert tax.code_for([]) == QboRef(id="4", name="Zero-rated")
    assert tax.code_for([Decimal("0"), Decimal("0")]) == QboRef(id="4", name="Zero-rated")
    assert tax.code_for([Decimal("5"), Decimal("9.975")], tax_on_tax=True) is None
    assert tax.code_for([Decimal("13")]) is None
    assert tax.code_for_untaxed_line() == QboRef(id="3", name="Exempt")
    assert tax.global_tax_calculation == "TaxExcluded"
    accounts = shipped.mappings.expense_accounts
    assert accounts is not None
    assert accounts.account_for(["travel"]) == QboRef(id="10", name="Travel")
    assert accounts.account_for(["Unknown", "Mileage"]) == QboRef(id="13", name="Mileage")
    assert accounts.account_for([]) == QboRef(id="15", name="Uncategorized Expense")
    target = shipped.mappings.expense_target
    assert target is not None
    assert (target.type, target.payment_account) == ("purchase", QboRef(id="1", name="Chequing"))
    assert shipped.mappings.service_item == QboRef(id="1", name="Services")
    assert shipped.mappings.time_activities.item == QboRef(id="2", name="Hours")
    assert shipped.mappings.purchase_order_vendor == QboRef(id="2", name="Pixel Freelance Co.")
    assert shipped.mappings.disambiguated_name("Wayne Enterprises") == "Wayne Enterprises (customer)"


def test_shipped_mapping_ids_are_the_sandbox_demo_company_ids(shipped: Policy) -> None:
    seed = pytest.importorskip("paymo_qb_mcp.sandbox.quickbooks.seed")
    tax_codes = {ident: row[0] for ident, row in seed.TAX_CODES_GLOBAL.items()}
    accounts = {ident: row[0] for ident, row in seed.ACCOUNTS.items()}
    items = {seed.ITEM_SERVICES: "Services", seed.ITEM_HOURS: "Hours"}
    vendors = {str(index): row[0] for index, row in enumerate(seed.VENDORS, start=1)}
    mappings = shipped.mappings
    assert mappings.expense_accounts is not None
    assert mappings.expense_target is not None
    assert mappings.expense_target.payment_account is not None
    assert mappings.purchase_order_vendor is not None
    refs: list[tuple[dict[str, str], QboRef | None]] = [
        (tax_codes, mappings.tax.exempt_code),
        *((tax_codes, code.qbo_tax_code) for code in mappings.tax.codes),
        *((accounts, ref) for ref in mappings.expense_accounts.by_tag.values()),
        (accounts, mappings.expense_accounts.default),
        (accounts, mappings.expense_target.payment_account),
        (items, mappings.service_item),
        (items, mappings.time_activities.item),
        (vendors, mappings.purchase_order_vendor),
    ]
    for table, ref in refs:
        assert ref is not None
        assert ref.id is not None
        assert table[ref.id] == ref.name


@pytest.mark.parametrize("name", ["strict.yaml", "relaxed.yaml"])
def test_examples_load_and_share_the_demo_mappings(shipped: Policy, name: str) -> None:
    example = load_policy(REPO / "examples" / "policies" / name)
    assert example.mappings == shipped.mappings


def test_strict_example_confirms_everything_and_denies_large_voids() -> None:
    strict = load_policy(REPO / "examples" / "policies" / "strict.yaml")
    assert (
        strict.decide("sync_invoice", PlanFacts("create", Decimal("10.00"), txn_dates=(NOV,))).effect
        == "confirm"
    )
    assert strict.decide("find_client_match", PlanFacts("link")).effect == "confirm"
    large_void = strict.decide("sync_invoice", PlanFacts("void", Decimal("1000.00"), txn_dates=(NOV,)))
    assert (large_void.effect, large_void.rule_name) == ("deny", "no large voids or deletes")
    assert (
        strict.decide("sync_invoice", PlanFacts("void", Decimal("999.99"), txn_dates=(NOV,))).effect
        == "confirm"
    )


def test_relaxed_example_confirms_only_customers_and_large_amounts() -> None:
    relaxed = load_policy(REPO / "examples" / "policies" / "relaxed.yaml")
    assert (
        relaxed.decide("sync_invoice", PlanFacts("create", Decimal("9999.99"), txn_dates=(NOV,))).effect
        == "allow"
    )
    assert (
        relaxed.decide("sync_invoice", PlanFacts("update", Decimal("10000"), txn_dates=(NOV,))).effect
        == "confirm"
    )
    assert relaxed.decide("find_client_match", PlanFacts("create", creates_customer=True)).effect == "confirm"
    assert relaxed.decide("mark_paid", PlanFacts("create", txn_dates=(date(2025, 1, 2),))).effect == "deny"


# --- every `when` key -----------------------------------------------------------------------

WHEN_CASES: list[tuple[str, PlanFacts, PlanFacts]] = [
    ("{operation: void}", PlanFacts("void"), PlanFacts("update")),
    ("{operation: [void, delete]}", PlanFacts("delete"), PlanFacts("create")),
    ("{operation: write}", PlanFacts("link"), PlanFacts("read")),
    (
        '{amount_gte: "5000.00"}',
        PlanFacts("create", Decimal("5000.00")),
        PlanFacts("create", Decimal("4999.99")),
    ),
    ("{amount_gte: 5000.00}", PlanFacts("create", Decimal("5000")), PlanFacts("create")),
    ('{amount_lte: "100"}', PlanFacts("create", Decimal("100.00")), PlanFacts("create", Decimal("100.01"))),
    ("{currency_in: [cad]}", PlanFacts("create", currencies=frozenset({"CAD"})), PlanFacts("create")),
    (
        "{currency_in: [CAD, USD]}",
        PlanFacts("create", currencies=frozenset({"CAD", "USD"})),
        PlanFacts("create", currencies=frozenset({"CAD", "EUR"})),
    ),
    (
        "{currency_not_in: [CAD]}",
        PlanFacts("create", currencies=frozenset({"CAD", "USD"})),
        PlanFacts("create", currencies=frozenset({"CAD"})),
    ),
    ("{creates_customer: true}", PlanFacts("create", creates_customer=True), PlanFacts("create")),
    ("{creates_customer: false}", PlanFacts("update"), PlanFacts("create", creates_customer=True)),
    (
        "{txn_date_before: 2026-01-01}",
        PlanFacts("create", txn_dates=(NOV, date(2025, 12, 31))),
        PlanFacts("create", txn_dates=(date(2026, 1, 1),)),
    ),
    (
        '{txn_date_after: "2026-11-30"}',
        PlanFacts("create", txn_dates=(date(2026, 12, 1),)),
        PlanFacts("create", txn_dates=(date(2026, 11, 30),)),
    ),
    ("{record_count_gte: 10}", PlanFacts("create", record_count=10), PlanFacts("create", record_count=9)),
    (
        '{operation: create, amount_gte: "10", currency_in: [USD], record_count_gte: 2}',
        PlanFacts("create", Decimal("10"), frozenset({"USD"}), record_count=2),
        PlanFacts("create", Decimal("10"), frozenset({"USD"}), record_count=1),
    ),
]


@pytest.mark.parametrize(("when", "matching", "missing"), WHEN_CASES)
def test_every_when_key_matches_and_misses(when: str, matching: PlanFacts, missing: PlanFacts) -> None:
    rules = one_rule(when)
    hit = rules.decide("any_tool", matching)
    assert (hit.effect, hit.rule_name) == ("deny", "under test")
    miss = rules.decide("any_tool", missing)
    assert miss.rule_name is None


def test_when_vocabulary_is_exactly_the_documented_one() -> None:
    from paymo_qb_mcp.config.policy import When

    assert set(When.model_fields) == {
        "operation",
        "amount_gte",
        "amount_lte",
        "currency_in",
        "currency_not_in",
        "creates_customer",
        "txn_date_before",
        "txn_date_after",
        "record_count_gte",
    }
    assert set(OPERATIONS) == {"read", "write", "create", "update", "void", "delete", "link"}


def test_tools_restrict_a_rule() -> None:
    rules = policy(
        "version: 1\ndefault: allow\nrules:\n"
        "  - {name: only invoices, tools: [sync_invoice, void_invoice], effect: deny}\n"
    )
    assert rules.decide("sync_invoice", PlanFacts("create")).rule_name == "only invoices"
    assert rules.decide("mark_paid", PlanFacts("create")).effect == "allow"
    assert rules.referenced_tools() == {"sync_invoice", "void_invoice"}


def test_first_matching_rule_wins() -> None:
    rules = policy(
        "version: 1\ndefault: deny\nrules:\n"
        "  - {name: small is fine, when: {amount_lte: '100'}, effect: allow}\n"
        "  - {name: usd needs a human, when: {currency_in: [USD]}, effect: confirm}\n"
        "  - {name: everything else, effect: deny}\n"
    )
    small_usd = PlanFacts("create", Decimal("50"), frozenset({"USD"}))
    assert rules.decide("t", small_usd).rule_name == "small is fine"
    large_usd = PlanFacts("create", Decimal("500"), frozenset({"USD"}))
    assert rules.decide("t", large_usd).rule_name == "usd needs a human"
    large_cad = PlanFacts("create", Decimal("500"), frozenset({"CAD"}))
    assert rules.decide("t", large_cad).rule_name == "everything else"


def test_default_applies_when_no_rule_matches() -> None:
    rules = one_rule('{amount_gte: "1000"}', default="confirm")
    decision = rules.decide("t", PlanFacts("update", Decimal("1")))
    assert (decision.effect, decision.rule_name) == ("confirm", None)


# --- reads are free -------------------------------------------------------------------------


def test_a_rule_that_would_deny_reads_is_refused_at_load() -> None:
    with pytest.raises(ConfigError, match=r"rule #1 'under test'.*read-only operations are always allowed"):
        one_rule("{operation: read}")


def test_reads_pass_a_catch_all_deny_rule() -> None:
    rules = policy("version: 1\ndefault: deny\nrules:\n  - {name: lock everything, effect: deny}\n")
    decision = rules.decide("reconciliation_report", PlanFacts("read"))
    assert (decision.effect, decision.rule_name) == ("allow", None)


@st.composite
def any_rule(draw: st.DrawFn) -> dict[str, Any]:
    when: dict[str, Any] = {}
    if draw(st.booleans()):
        when["operation"] = draw(
            st.lists(st.sampled_from(sorted(OPERATIONS - {"read"})), min_size=1, max_size=3)
        )
    if draw(st.booleans()):
        when["amount_gte"] = str(draw(st.decimals(min_value=0, max_value=10_000, places=2)))
    if draw(st.booleans()):
        when["creates_customer"] = draw(st.booleans())
    if draw(st.booleans()):
        when["txn_date_before"] = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)))
    rule: dict[str, Any] = {"name": f"rule {draw(st.uuids())}", "when": when}
    rule["effect"] = draw(st.sampled_from(["allow", "confirm", "deny"]))
    if draw(st.booleans()):
        rule["tools"] = draw(st.lists(st.sampled_from(["sync_invoice", "mark_paid"]), min_size=1, max_size=2))
    return rule


@given(
    rules=st.lists(any_rule(), max_size=5),
    default=st.sampled_from(["allow", "confirm", "deny"]),
    amount=st.none() | st.decimals(min_value=0, max_value=20_000, places=2),
    dates=st.lists(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)), max_size=3),
    tool=st.sampled_from(["sync_invoice", "mark_paid", "reconciliation_report"]),
)
def test_read_only_operations_are_always_allowed(
    rules: list[dict[str, Any]], default: str, amount: Decimal | None, dates: list[date], tool: str
) -> None:
    model = Policy.model_validate({"version": 1, "default": default, "rules": rules})
    facts = PlanFacts("read", amount, frozenset({"CAD"}), creates_customer=False, txn_dates=tuple(dates))
    assert model.decide(tool, facts).effect == "allow"


@given(
    amount=st.decimals(min_value=0, max_value=20_000, places=2), threshold=st.decimals(0, 20_000, places=2)
)
def test_amount_threshold_is_inclusive_and_exact(amount: Decimal, threshold: Decimal) -> None:
    rules = one_rule(f'{{amount_gte: "{threshold}"}}')
    expected = "deny" if amount >= threshold else "allow"
    assert rules.decide("t", PlanFacts("create", amount)).effect == expected


# --- bad files ------------------------------------------------------------------------------

BAD_FILES: list[tuple[str, list[str]]] = [
    (
        "version: 1\nrules:\n  - name: big invoices\n    when: {amount_ge: '5000'}\n    effect: confirm\n",
        ["rule #1 'big invoices'", "when.amount_ge", "unknown key 'amount_ge'", "allowed: amount_gte"],
    ),
    (
        "version: 1\nrules:\n  - {name: a, effect: allow}\n"
        "  - {name: b, when: {amount_gte: lots}, effect: deny}\n",
        ["rule #2 'b'", "field when.amount_gte", "expected a decimal amount", "'lots'"],
    ),
    (
        "version: 1\nrules:\n  - {name: a, effect: maybe}\n",
        ["rule #1 'a'", "field effect", "must be allow, confirm or deny, got 'maybe'"],
    ),
    (
        "version: 1\nrules:\n  - {when: {operation: void}, effect: deny}\n",
        ["rule #1", "field name: is required"],
    ),
    (
        "version: 1\nrules:\n  - {name: a, when: {operation: erase}, effect: deny}\n",
        ["unknown operation 'erase'"],
    ),
    (
        "version: 1\nrules:\n  - {name: a, when: {currency_in: [dollars]}, effect: deny}\n",
        ["three-letter ISO"],
    ),
    ("version: 1\nrules:\n  - {name: a, when: {txn_date_before: soon}, effect: deny}\n", ["expected a date"]),
    (
        "version: 1\nrules:\n  - {name: a, when: {txn_date_before: 2026-01-01T10:00:00Z}, effect: deny}\n",
        ["got the timestamp"],
    ),
    (
        "version: 1\nrules:\n  - {name: a, when: {creates_customer: maybe}, effect: deny}\n",
        ["creates_customer"],
    ),
    ("version: 1\nrules:\n  - {name: a, when: {record_count_gte: -1}, effect: deny}\n", ["record_count_gte"]),
    (
        "version: 1\nrules:\n  - {name: a, when: {amount_gte: '10', amount_lte: '5'}, effect: deny}\n",
        ["rule #1 'a'", "never matches"],
    ),
    (
        "version: 1\nrules:\n  - {name: same, effect: deny}\n  - {name: same, effect: allow}\n",
        ["rule #2 'same' has the same name as rule #1"],
    ),
    ("version: 1\nrules:\n  - {name: a, tools: [], effect: deny}\n", ["rule #1 'a'", "field tools"]),
    ("version: 2\n", ["field version"]),
    ("default: confirm\n", ["field version: is required"]),
    ("version: 1\nfrobnicate: true\n", ["unknown key 'frobnicate'", "allowed: approvals, default"]),
    ("version: 1\nlimits: {writes_per_minute: 0}\n", ["limits.writes_per_minute"]),
    ("version: 1\napprovals: {expire_after: soon}\n", ["approvals.expire_after", "expected a duration"]),
    ("version: 1\napprovals: {max_pending_per_tool: 0}\n", ["approvals.max_pending_per_tool"]),
    ("version: 1\napprovals: {max_pending_per_tool: '5'}\n", ["approvals.max_pending_per_tool"]),
    ("version: 1\ndefault: confirm\ndefault: allow\n", ["line 3", "'default' appears twice"]),
    ("version: 1\nrules: [\n", ["not valid YAML", "line"]),
    ("- just\n- a list\n", ["expected a mapping"]),
    (
        "version: 1\nmappings: {tax: {codes: [{paymo_percents: ['5'], qbo_tax_code: {}}]}}\n",
        ["mappings.tax.codes[0].qbo_tax_code", "give an id, a name, or both"],
    ),
    (
        "version: 1\nmappings: {tax: {codes: [{paymo_percents: ['5'], qbo_tax_code: GST},"
        " {paymo_percents: ['5.0'], qbo_tax_code: HST}]}}\n",
        ["codes[1] repeats the combination [5.0]"],
    ),
    ("version: 1\nmappings: {expense_target: {type: bill}}\n", ["mappings.expense_target", "needs vendor"]),
    ("version: 1\nmappings: {expense_target: {type: purchase}}\n", ["needs payment_account"]),
    (
        "version: 1\nmappings: {expense_accounts: {by_tag: {Travel: T, travel: U}, default: X}}\n",
        ["only by case"],
    ),
    ("version: 1\nmappings: {duplicate_name_template: 'Customer: {name}'}\n", ["cannot contain ':'"]),
    ("version: 1\nmappings: {duplicate_name_template: '{nom} 2'}\n", ["must contain {name}"]),
    ("version: 1\nmappings: {tax: {global_tax_calculation: NotApplicable}}\n", ["global_tax_calculation"]),
    ("version: 1\nmappings: {service_item: {sku: 7}}\n", ["mappings.service_item", "unknown key 'sku'"]),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_FILES)
def test_a_bad_file_names_the_rule_and_the_field(text: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        policy(text)
    message = str(caught.value)
    assert message.startswith("test.yaml: ")
    for fragment in fragments:
        assert fragment in message


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the policy file"):
        load_policy(tmp_path / "nope.yaml")


# --- scalars --------------------------------------------------------------------------------


def test_unquoted_decimals_are_read_exactly() -> None:
    rules = one_rule("{amount_gte: 0.1}")
    assert rules.rules[0].when.amount_gte == Decimal("0.1")


def test_floats_from_code_are_refused() -> None:
    with pytest.raises(ValueError, match="decimal strings"):
        Policy.model_validate(
            {"version": 1, "rules": [{"name": "a", "when": {"amount_gte": 0.1}, "effect": "deny"}]}
        )


def test_plan_facts_refuse_float_amounts_and_unknown_operations() -> None:
    with pytest.raises(TypeError):
        PlanFacts("create", 12.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown operation"):
        PlanFacts("erase")  # type: ignore[arg-type]
    assert PlanFacts("create", currencies=frozenset({"cad"})).currencies == {"CAD"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("1d", timedelta(days=1)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "15", "0m", "31d", "15 minutes", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_qbo_ref_shorthands() -> None:
    assert QboRef.model_validate("GST") == QboRef(name="GST")
    assert QboRef.model_validate({"id": 7}) == QboRef(id="7")
    assert QboRef(id="7", name="GST").describe() == "'GST' (Id 7)"
