"""The policies.yaml schema (rules, `when` vocabulary, limits, approvals, mappings) and its pure evaluator.

A policy maps a planned write to `allow`, `confirm` or `deny`: the first rule whose tools and `when`
conditions all hold wins; `default` applies when none does. Read-only operations are always allowed.
There is no expression language on purpose: every condition is one of the keys of `When`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from paymo_qb_mcp.errors import ConfigError

__all__ = [
    "OPERATIONS",
    "WRITE_OPERATIONS",
    "ApprovalSettings",
    "Decision",
    "Effect",
    "ExpenseAccounts",
    "ExpenseTarget",
    "Limits",
    "Mappings",
    "Operation",
    "PlanFacts",
    "Policy",
    "QboRef",
    "Rule",
    "TaxCodeMapping",
    "TaxMappings",
    "TimeActivityDefaults",
    "When",
    "load_policy",
    "parse_duration",
]

Effect = Literal["allow", "confirm", "deny"]
Operation = Literal["read", "write", "create", "update", "void", "delete", "link"]
OPERATIONS: Final[frozenset[str]] = frozenset(get_args(Operation))
# "write" in a rule stands for every operation that changes something; a plan whose changes are of
# several kinds reports "write" itself.
WRITE_OPERATIONS: Final[frozenset[str]] = OPERATIONS - {"read"}

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DURATION = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_MAX_APPROVAL_LIFETIME: Final = timedelta(days=30)
_FORBIDDEN_NAME_CHARACTERS: Final = (":", "\t", "\n")


# ---------------------------------------------------------------------------------------------
# Scalar parsers shared by the models
# ---------------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal:
    # Floats would carry binary noise into thresholds; our YAML loader already reads unquoted
    # decimals as Decimal, so a float here came from code that should pass a string.
    if isinstance(value, bool | float):
        raise ValueError(f'write amounts as decimal strings, e.g. "5000.00" (got {value!r})')
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | str):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"expected a decimal amount such as 5000.00, got {value!r}") from None
    else:
        raise ValueError(f"expected a decimal amount such as 5000.00, got {type(value).__name__}")
    if not number.is_finite():
        raise ValueError(f"expected a finite amount, got {value!r}")
    return number


def _date(value: Any) -> date:
    # datetime is a subclass of date; a timestamp here is a mistake, not a date.
    if isinstance(value, datetime):
        raise ValueError(f"expected a date such as 2026-01-01, got the timestamp {value.isoformat()}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date such as 2026-01-01, got {value!r}")


def _currency(value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else value
    if not isinstance(code, str) or not _CURRENCY.match(code):
        raise ValueError(f"expected a three-letter ISO currency code such as CAD, got {value!r}")
    return code


def _currency_set(value: Any) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset) or not items:
        raise ValueError("expected a non-empty list of currency codes, e.g. [CAD, USD]")
    return frozenset(_currency(item) for item in items)


def _operation_set(value: Any) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset) or not items:
        raise ValueError(f"expected one of {', '.join(sorted(OPERATIONS))}, or a list of them")
    unknown = [item for item in items if item not in OPERATIONS]
    if unknown:
        raise ValueError(f"unknown operation {unknown[0]!r}; use one of {', '.join(sorted(OPERATIONS))}")
    return frozenset(items)


def parse_duration(value: Any) -> timedelta:
    """`15m`, `2h`, `1h30m`, `45s`, `1d` → timedelta (a `timedelta` passes through)."""
    if isinstance(value, timedelta):
        duration = value
    else:
        match = _DURATION.match(value.strip()) if isinstance(value, str) else None
        if match is None or not value.strip():
            raise ValueError(f"expected a duration such as 15m, 2h or 1h30m, got {value!r}")
        parts = {unit: int(amount) for unit, amount in match.groupdict(default="0").items()}
        duration = timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])
    if duration <= timedelta(0) or duration > _MAX_APPROVAL_LIFETIME:
        raise ValueError(f"expected a duration between 1s and 30d, got {value!r}")
    return duration


DecimalAmount = Annotated[Decimal, BeforeValidator(_decimal)]
PolicyDate = Annotated[date, BeforeValidator(_date)]
CurrencySet = Annotated[frozenset[str], BeforeValidator(_currency_set)]
OperationSet = Annotated[frozenset[Operation], BeforeValidator(_operation_set)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------
# The facts a plan exposes, and the decision
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanFacts:
    """What the policy may look at in a plan; the sync layer derives it from the plan's changes.

    `amount` is the largest single-record amount of the plan (None when no record carries money);
    `operation` is the plan's kind of change, or "write" when it mixes several kinds.
    """

    operation: Operation
    amount: Decimal | None = None
    currencies: frozenset[str] = field(default_factory=frozenset)
    creates_customer: bool = False
    txn_dates: tuple[date, ...] = ()
    record_count: int = 1

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            raise ValueError(f"unknown operation {self.operation!r}; use one of {sorted(OPERATIONS)}")
        if self.amount is not None and not isinstance(self.amount, Decimal):
            raise TypeError(f"amount must be a Decimal, got {type(self.amount).__name__}")
        if self.record_count < 0:
            raise ValueError("record_count cannot be negative")
        # Accept any iterable from callers while keeping the value hashable and normalised.
        object.__setattr__(self, "currencies", frozenset(code.upper() for code in self.currencies))
        object.__setattr__(self, "txn_dates", tuple(self.txn_dates))

    @property
    def is_read_only(self) -> bool:
        return self.operation == "read"


@dataclass(frozen=True)
class Decision:
    """The policy's answer for one plan: the effect, the rule that decided (None for the default), and why."""

    effect: Effect
    rule_name: str | None
    reason: str


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


def _amount_text(amount: Decimal) -> str:
    return format(amount, "f")


class When(_Strict):
    """The closed vocabulary of rule conditions: all that are given must hold; an empty `when` always does."""

    operation: OperationSet | None = None
    amount_gte: DecimalAmount | None = None
    amount_lte: DecimalAmount | None = None
    currency_in: CurrencySet | None = None
    currency_not_in: CurrencySet | None = None
    creates_customer: StrictBool | None = None
    txn_date_before: PolicyDate | None = None
    txn_date_after: PolicyDate | None = None
    record_count_gte: StrictInt | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _satisfiable(self) -> When:
        if self.amount_gte is not None and self.amount_lte is not None and self.amount_gte > self.amount_lte:
            raise ValueError(
                f"amount_gte {self.amount_gte} is above amount_lte {self.amount_lte}: the rule never matches"
            )
        if (
            self.txn_date_before is not None
            and self.txn_date_after is not None
            and self.txn_date_after >= self.txn_date_before
        ):
            # With "some date after X and some date before Y" a multi-record plan could still match,
            # but a single record never could, and that is nearly always a typo.
            raise ValueError(
                f"txn_date_after {self.txn_date_after} is not before txn_date_before "
                f"{self.txn_date_before}: no single record can match"
            )
        if self.currency_in is not None and self.currency_not_in is not None:
            overlap = self.currency_in & self.currency_not_in
            if overlap:
                raise ValueError(f"{', '.join(sorted(overlap))} is in both currency_in and currency_not_in")
        return self

    def evidence(self, facts: PlanFacts) -> list[str] | None:
        """The conditions that hold, as text, when all of them hold; None as soon as one does not."""
        held: list[str] = []
        if self.operation is not None:
            matched = facts.operation in self.operation or (
                "write" in self.operation and facts.operation in WRITE_OPERATIONS
            )
            if not matched:
                return None
            held.append(f"operation is {facts.operation}")
        if self.amount_gte is not None:
            if facts.amount is None or facts.amount < self.amount_gte:
                return None
            held.append(f"amount {_amount_text(facts.amount)} ≥ {_amount_text(self.amount_gte)}")
        if self.amount_lte is not None:
            if facts.amount is None or facts.amount > self.amount_lte:
                return None
            held.append(f"amount {_amount_text(facts.amount)} ≤ {_amount_text(self.amount_lte)}")
        # currency_in: every currency of the plan is listed; currency_not_in: at least one is not.
        # A plan without currencies satisfies neither.
        if self.currency_in is not None:
            if not facts.currencies or not facts.currencies <= self.currency_in:
                return None
            held.append(f"currencies {', '.join(sorted(facts.currencies))} all in {sorted(self.currency_in)}")
        if self.currency_not_in is not None:
            outside = facts.currencies - self.currency_not_in
            if not outside:
                return None
            held.append(f"currency {', '.join(sorted(outside))} not in {sorted(self.currency_not_in)}")
        if self.creates_customer is not None:
            if facts.creates_customer != self.creates_customer:
                return None
            held.append("creates a customer" if facts.creates_customer else "creates no customer")
        # Date conditions hold when any record is on that side of the date (strictly), so one record
        # in a closed period is enough to trigger a closed-books rule.
        if self.txn_date_before is not None:
            early = [d for d in facts.txn_dates if d < self.txn_date_before]
            if not early:
                return None
            held.append(f"dated {min(early).isoformat()}, before {self.txn_date_before.isoformat()}")
        if self.txn_date_after is not None:
            late = [d for d in facts.txn_dates if d > self.txn_date_after]
            if not late:
                return None
            held.append(f"dated {max(late).isoformat()}, after {self.txn_date_after.isoformat()}")
        if self.record_count_gte is not None:
            if facts.record_count < self.record_count_gte:
                return None
            held.append(f"{facts.record_count} records ≥ {self.record_count_gte}")
        return held


class Rule(_Strict):
    """One ordered rule: optional tool list, conditions, effect."""

    name: str = Field(min_length=1)
    tools: tuple[Annotated[str, Field(min_length=1)], ...] | None = Field(default=None, min_length=1)
    when: When = Field(default_factory=When)
    effect: Effect

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("a rule needs a non-blank name")
        return stripped

    @model_validator(mode="after")
    def _reads_stay_free(self) -> Rule:
        if self.effect != "allow" and self.when.operation is not None and self.when.operation <= {"read"}:
            raise ValueError(
                f"effect {self.effect} on operation read: read-only operations are always allowed, "
                "so this rule would never apply; remove it or make it a write rule"
            )
        return self

    def evidence(self, tool: str, facts: PlanFacts) -> list[str] | None:
        if self.tools is not None and tool not in self.tools:
            return None
        held = self.when.evidence(facts)
        if held is None:
            return None
        return ([f"tool {tool}"] if self.tools is not None else []) + held


class Limits(_Strict):
    """Server-wide limits."""

    writes_per_minute: StrictInt = Field(default=30, ge=1)


class ApprovalSettings(_Strict):
    """How long a pending approval stays valid, and how many may wait for a human per tool."""

    expire_after: Duration = timedelta(minutes=15)
    # An identical plan asked for again shares its approval and never counts twice; this caps the
    # distinct plans an agent can leave waiting, so the human's list stays reviewable.
    max_pending_per_tool: StrictInt = Field(default=20, ge=1, le=1000)


# ---------------------------------------------------------------------------------------------
# Mappings: what the sync needs to know about this company
# ---------------------------------------------------------------------------------------------


class QboRef(_Strict):
    """A QuickBooks record named by Id, by name, or both (the sync resolves a name to an Id once).

    YAML may say `{id: "7"}`, `{name: GST}`, `{id: "7", name: GST}` or just `GST` (a name).
    """

    id: str | None = None
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        if (
            isinstance(value, Mapping)
            and isinstance(value.get("id"), int)
            and not isinstance(value["id"], bool)
        ):
            return {**value, "id": str(value["id"])}
        return value

    @model_validator(mode="after")
    def _named(self) -> QboRef:
        if not (self.id or "").strip() and not (self.name or "").strip():
            raise ValueError("give an id, a name, or both")
        return self

    def describe(self) -> str:
        if self.id and self.name:
            return f"{self.name!r} (Id {self.id})"
        return f"Id {self.id}" if self.id else repr(self.name)


def _percent_key(percents: Iterable[Decimal]) -> tuple[Decimal, ...]:
    # Paymo sends tax "0" for "no tax"; zero percents do not change the combination. Decimals compare
    # and hash by value, so 5, 5.0 and 5.000 are one key.
    return tuple(p for p in percents if p != 0)


class TaxCodeMapping(_Strict):
    """One Paymo tax combination (`tax`, then `tax2` percents; compound when `tax_on_tax`) → a QBO TaxCode."""

    paymo_percents: tuple[DecimalAmount, ...] = Field(max_length=2)
    tax_on_tax: StrictBool = False
    qbo_tax_code: QboRef

    @field_validator("paymo_percents")
    @classmethod
    def _percent_range(cls, value: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
        for percent in value:
            if not Decimal(0) <= percent < Decimal(100):
                raise ValueError(f"a tax percent must be between 0 and 100, got {percent}")
        return value

    @property
    def key(self) -> tuple[tuple[Decimal, ...], bool]:
        return _percent_key(self.paymo_percents), self.tax_on_tax


class TaxMappings(_Strict):
    """How Paymo's invoice-level taxes become QBO tax codes on each line."""

    global_tax_calculation: Literal["TaxExcluded", "TaxInclusive"] = "TaxExcluded"
    exempt_code: QboRef | None = None
    codes: tuple[TaxCodeMapping, ...] = ()

    @field_validator("codes")
    @classmethod
    def _unique(cls, value: tuple[TaxCodeMapping, ...]) -> tuple[TaxCodeMapping, ...]:
        seen: set[tuple[tuple[Decimal, ...], bool]] = set()
        for index, mapping in enumerate(value):
            if mapping.key in seen:
                percents = ", ".join(str(p) for p in mapping.key[0]) or "no tax"
                raise ValueError(f"codes[{index}] repeats the combination [{percents}]")
            seen.add(mapping.key)
        return value

    def code_for(self, percents: Sequence[Decimal], *, tax_on_tax: bool = False) -> QboRef | None:
        """The QBO tax code for a Paymo invoice's `tax`/`tax2` percents; no tax falls back to exempt_code."""
        key = _percent_key(percents)
        # tax_on_tax only changes anything when there is a second tax to compound.
        compound = tax_on_tax and len(key) > 1
        for mapping in self.codes:
            if mapping.key == (key, compound):
                return mapping.qbo_tax_code
        return self.exempt_code if not key else None

    def code_for_untaxed_line(self) -> QboRef | None:
        """The code for a line with `apply_tax` false (QBO's global model needs a code on every line)."""
        return self.exempt_code


class ExpenseAccounts(_Strict):
    """Paymo expense tag → QBO expense account; the first mapped tag of an expense wins, else `default`."""

    by_tag: dict[str, QboRef] = Field(default_factory=dict)
    default: QboRef

    @field_validator("by_tag")
    @classmethod
    def _tags_unique_ignoring_case(cls, value: dict[str, QboRef]) -> dict[str, QboRef]:
        folded: dict[str, str] = {}
        for tag in value:
            key = tag.strip().casefold()
            if not key:
                raise ValueError("an expense tag cannot be blank")
            if key in folded:
                raise ValueError(f"tags {folded[key]!r} and {tag!r} differ only by case")
            folded[key] = tag
        return value

    def account_for(self, tags: Sequence[str]) -> QboRef:
        by_folded = {tag.strip().casefold(): ref for tag, ref in self.by_tag.items()}
        for tag in tags:
            ref = by_folded.get(tag.strip().casefold())
            if ref is not None:
                return ref
        return self.default


class ExpenseTarget(_Strict):
    """What a Paymo expense becomes in QBO: a Purchase (already paid) or a Bill (owed to a vendor)."""

    type: Literal["purchase", "bill"] = "purchase"
    payment_type: Literal["Cash", "Check", "CreditCard"] = "Cash"
    payment_account: QboRef | None = None
    vendor: QboRef | None = None

    @model_validator(mode="after")
    def _complete(self) -> ExpenseTarget:
        if self.type == "purchase" and self.payment_account is None:
            raise ValueError(
                "type purchase needs payment_account (the Bank or Credit Card account that paid)"
            )
        if self.type == "bill" and self.vendor is None:
            raise ValueError("type bill needs vendor (QBO bills are owed to a vendor)")
        return self


class TimeActivityDefaults(_Strict):
    """Defaults for Paymo time entries pushed as QBO TimeActivity records."""

    item: QboRef = QboRef(name="Hours")
    name_of: Literal["Employee", "Vendor"] = "Employee"
    # Paymo user id → QBO employee (or vendor); users not listed are matched by name.
    users: dict[int, QboRef] = Field(default_factory=dict)


class Mappings(_Strict):
    """Company-specific facts the sync needs; optional sections are needed only by the flows using them."""

    tax: TaxMappings = Field(default_factory=TaxMappings)
    expense_accounts: ExpenseAccounts | None = None
    expense_target: ExpenseTarget | None = None
    service_item: QboRef = QboRef(name="Services")
    purchase_order_vendor: QboRef | None = None
    # Where payments pushed to QBO are deposited; QBO's default (Undeposited Funds) when unset.
    payment_deposit_account: QboRef | None = None
    time_activities: TimeActivityDefaults = Field(default_factory=TimeActivityDefaults)
    # Used when a new customer's name is taken by a vendor or employee (QBO 6240): {name} is the
    # wanted name, {n} an attempt number starting at 2.
    duplicate_name_template: str = "{name} (customer)"

    @field_validator("duplicate_name_template")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"not a valid template: {exc}") from None
        if "name" not in fields:
            raise ValueError("the template must contain {name}")
        unknown = fields - {"name", "n"}
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; use {{name}} and {{n}}")
        if any(ch in value for ch in _FORBIDDEN_NAME_CHARACTERS):
            raise ValueError("QBO display names cannot contain ':', tabs or newlines")
        if value.format(name="", n=2).strip() == "":
            raise ValueError("the template must add something to {name}")
        return value

    def disambiguated_name(self, name: str, attempt: int = 2) -> str:
        """The display name to try when `name` is taken; `attempt` counts from 2."""
        return self.duplicate_name_template.format(name=name, n=attempt)


# ---------------------------------------------------------------------------------------------
# The policy
# ---------------------------------------------------------------------------------------------


class Policy(_Strict):
    """A validated policies.yaml. `decide` is pure: same tool and facts, same decision."""

    version: Literal[1]
    default: Effect = "confirm"
    rules: tuple[Rule, ...] = ()
    limits: Limits = Field(default_factory=Limits)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    mappings: Mappings = Field(default_factory=Mappings)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        seen: dict[str, int] = {}
        for index, rule in enumerate(rules):
            if rule.name in seen:
                raise ValueError(
                    f"rule #{index + 1} {rule.name!r} has the same name as rule #{seen[rule.name] + 1}; "
                    "names identify rules in decisions and the audit log"
                )
            seen[rule.name] = index
        return rules

    def decide(self, tool: str, facts: PlanFacts) -> Decision:
        """First matching rule wins; `default` otherwise. Reads are always allowed."""
        for rule in self.rules:
            held = rule.evidence(tool, facts)
            if held is None:
                continue
            if facts.is_read_only and rule.effect != "allow":
                # A rule that does not name an operation (a catch-all deny, say) matches reads too;
                # a read still never confirms or denies.
                break
            because = "; ".join(held) if held else "matches every call"
            return Decision(rule.effect, rule.name, f"rule {rule.name!r}: {because}")
        if facts.is_read_only:
            return Decision("allow", None, "read-only operations are always allowed")
        return Decision(self.default, None, f"no rule matched; the default is {self.default}")

    def referenced_tools(self) -> frozenset[str]:
        """Every tool name the rules mention, so the server can reject a typo at start-up."""
        return frozenset(tool for rule in self.rules for tool in rule.tools or ())

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "policies.yaml") -> Policy:
        """Parse and validate; raises ConfigError naming the file, the rule (name or number) and the field."""
        try:
            data = yaml.load(text, Loader=_PolicyLoader)  # a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {_yaml_problem(exc)}") from None
        except _DuplicateKey as exc:
            raise ConfigError(f"{source}: {exc}") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: expected a mapping with version, default and rules at the top")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(
                f"{source}: " + "; ".join(_explain(error, data) for error in exc.errors())
            ) from None


def load_policy(path: Path) -> Policy:
    """Read and validate a policies.yaml file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the policy file {str(path)!r}: {exc.strerror}") from None
    return Policy.from_yaml(text, source=str(path))


# ---------------------------------------------------------------------------------------------
# YAML loading and error messages
# ---------------------------------------------------------------------------------------------


class _DuplicateKey(Exception):
    pass


class _PolicyLoader(yaml.SafeLoader):
    """SafeLoader that reads decimals exactly and refuses duplicate keys (YAML would keep the last one)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise _DuplicateKey(f"line {key_node.start_mark.line + 1}: the key {key!r} appears twice")
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        # .inf / .nan: keep the text so validation names it.
        return Decimal("NaN")


_PolicyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_PolicyLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem


def _model_for(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    info = model.model_fields.get(key)
    if info is None:
        return None
    pending: list[Any] = [info.annotation]
    while pending:
        candidate = pending.pop()
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        pending.extend(get_args(candidate))
    return None


def _explain(error: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    location = [part for part in error.get("loc", ()) if not (isinstance(part, str) and "[" in part)]
    subject = ""
    path: list[str] = []
    model: type[BaseModel] | None = Policy
    rest = list(location)
    if len(rest) >= 2 and rest[0] == "rules" and isinstance(rest[1], int):
        index = rest[1]
        raw_rules = data.get("rules")
        raw = raw_rules[index] if isinstance(raw_rules, list) and index < len(raw_rules) else None
        raw_name = raw.get("name") if isinstance(raw, Mapping) else None
        subject = f"rule #{index + 1}" + (f" {raw_name!r}" if isinstance(raw_name, str) and raw_name else "")
        rest = rest[2:]
        model = Rule
    for part in rest:
        if isinstance(part, int):
            path[-1:] = [f"{path[-1]}[{part}]"] if path else [f"[{part}]"]
            continue
        path.append(str(part))
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden" and rest:
        parent = model
        for part in rest[:-1]:
            if parent is not None and isinstance(part, str):
                parent = _model_for(parent, part)
        allowed = sorted(parent.model_fields) if parent is not None else []
        message = f"unknown key {rest[-1]!r}" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    elif error.get("type") == "missing":
        message = "is required"
    elif error.get("type") == "tuple_type":
        message = "expected a list"
    elif error.get("type") == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", "")).replace("'", "")
        message = f"must be {expected}, got {error.get('input')!r}"
    field_text = f"field {'.'.join(path)}" if path else ""
    where = ", ".join(part for part in (subject, field_text) if part) or "the file"
    return f"{where}: {message}"
