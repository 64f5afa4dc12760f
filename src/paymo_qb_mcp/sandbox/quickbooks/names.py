"""Rules for name-list entities and company settings: names, uniqueness, defaults, hierarchy, currency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from paymo_qb_mcp.sandbox.quickbooks import fault as faults
from paymo_qb_mcp.sandbox.quickbooks.engine import Engine, EntityRules, WriteOptions
from paymo_qb_mcp.sandbox.quickbooks.state import CURRENCY_NAMES, NAME_FIELD, Record, decimal_or_zero

PARTIES = ("Customer", "Vendor", "Employee")
_NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
_MAX_CUSTOMER_LEVEL = 4

# AccountType → (default AccountSubType, Classification).
ACCOUNT_TYPES: dict[str, tuple[str, str]] = {
    "Bank": ("Checking", "Asset"),
    "Accounts Receivable": ("AccountsReceivable", "Asset"),
    "Other Current Asset": ("OtherCurrentAssets", "Asset"),
    "Fixed Asset": ("OtherFixedAssets", "Asset"),
    "Other Asset": ("OtherLongTermAssets", "Asset"),
    "Accounts Payable": ("AccountsPayable", "Liability"),
    "Credit Card": ("CreditCard", "Liability"),
    "Other Current Liability": ("OtherCurrentLiabilities", "Liability"),
    "Long Term Liability": ("OtherLongTermLiabilities", "Liability"),
    "Equity": ("OpeningBalanceEquity", "Equity"),
    "Income": ("ServiceFeeIncome", "Revenue"),
    "Cost of Goods Sold": ("SuppliesMaterialsCogs", "Expense"),
    "Expense": ("OtherMiscellaneousServiceCost", "Expense"),
    "Other Income": ("OtherMiscellaneousIncome", "Revenue"),
    "Other Expense": ("OtherMiscellaneousExpense", "Expense"),
    "Non-Posting": ("OtherMiscellaneousNonPosting", "Asset"),
}
_CREATABLE_ITEM_TYPES = frozenset({"Service", "NonInventory", "Inventory", "Category"})


def assign_address_ids(
    engine: Engine, record: Record, existing: Record | None, keys: tuple[str, ...]
) -> None:
    """QBO gives every stored address an Id; an address resent on update keeps its Id."""
    for key in keys:
        address = record.get(key)
        if not isinstance(address, dict):
            continue
        previous = (existing or {}).get(key) or {}
        ident = previous.get("Id") or engine.state.next_address_id()
        record[key] = {"Id": ident, **{name: value for name, value in address.items() if name != "Id"}}


def _ensure_unique(
    engine: Engine, entities: tuple[str, ...], name: str, self_ref: tuple[str, str] | None, kinds: str
) -> None:
    for entity in entities:
        field = NAME_FIELD[entity]
        for row in engine.state.rows(entity):
            if self_ref == (entity, row["Id"]):
                continue
            candidate = (
                row.get("FullyQualifiedName", row.get(field))
                if entity in {"Item", "Account"}
                else row.get(field)
            )
            # Inactive records keep their names (reference §12.1 ⚠): they still clash.
            if isinstance(candidate, str) and engine.names_equal(candidate, name):
                raise faults.duplicate_name(kinds)


def _currency(engine: Engine, record: Record, existing: Record | None, element: str = "CurrencyRef") -> None:
    state = engine.state
    if existing is not None and "CurrencyRef" in existing:
        requested = record.get("CurrencyRef", {}).get("value")
        if requested is not None and requested != existing["CurrencyRef"]["value"]:
            # GUESS: the exact fault for changing an immutable currency is not documented.
            raise faults.business_validation(
                "The currency of a customer or vendor cannot be changed.", element
            )
        record["CurrencyRef"] = existing["CurrencyRef"]
        return
    code = str(record.get("CurrencyRef", {}).get("value") or state.home_currency).upper()
    if code != state.home_currency:
        if not state.multicurrency:
            raise faults.business_validation("Multicurrency is not enabled for this company.", element)
        if code not in CURRENCY_NAMES:
            raise faults.invalid_reference("Currency", code, element)
        if code not in state.active_currencies():
            # Creating a party in a new currency adds it to the company's currency list (reference §8.1).
            state.insert("CompanyCurrency", {"Code": code, "Name": CURRENCY_NAMES[code], "Active": True})
    record["CurrencyRef"] = state.currency_ref(code)


def build_party(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    """Customer, Vendor, Employee: one DisplayName namespace across all three (6240), 6080 without a name."""
    record = dict(merged)
    display = str(record.get("DisplayName") or "").strip()
    if not display and existing is not None and "DisplayName" not in supplied:
        display = str(existing.get("DisplayName", ""))
    if not display:
        parts = [str(record[part]).strip() for part in _NAME_PARTS if record.get(part)]
        if not parts:
            raise faults.no_name_provided()
        display = " ".join(parts)
    record["DisplayName"] = display
    self_ref = (entity, existing["Id"]) if existing else None
    _ensure_unique(engine, PARTIES, display, self_ref, "customer, vendor or employee")
    record.setdefault("PrintOnCheckName", display[:110])
    record.setdefault("Active", True)
    if entity == "Customer":
        _customer(engine, record, existing, supplied)
    elif entity == "Vendor":
        _currency(engine, record, existing)
        record.setdefault("Vendor1099", False)
        _name_refs(engine, record)
        record["Balance"] = (
            decimal_or_zero(existing.get("Balance")) if existing else decimal_or_zero(record.get("Balance"))
        )
        assign_address_ids(engine, record, existing, ("BillAddr", "ShipAddr"))
    else:
        record.setdefault("BillableTime", False)
        assign_address_ids(engine, record, existing, ("PrimaryAddr",))
    return record


def _customer(engine: Engine, record: Record, existing: Record | None, supplied: Record) -> None:
    state = engine.state
    parent_ref = record.get("ParentRef")
    if parent_ref:
        parent = state.get("Customer", str(parent_ref["value"]))
        assert parent is not None  # checked as a reference already
        level = int(parent.get("Level", 0)) + 1
        if level > _MAX_CUSTOMER_LEVEL:
            raise faults.business_validation(
                "Sub-customers can be nested at most 4 levels deep.", "ParentRef"
            )
        record["ParentRef"] = {"value": parent["Id"], "name": parent["FullyQualifiedName"]}
        record["Job"] = True
        record["Level"] = level
        record["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{record['DisplayName']}"
        record.setdefault("BillWithParent", False)
    else:
        record.pop("Level", None)
        record["Job"] = False
        record["FullyQualifiedName"] = record["DisplayName"]
        record["BillWithParent"] = False
    # Last of the checks that can fail: a new currency is added to the company's list here.
    _currency(engine, record, existing)
    if existing is None:
        # Balance is writable on create only, as an opening balance (reference §8.1).
        record["Balance"] = decimal_or_zero(record.get("Balance"))
    else:
        record["Balance"] = decimal_or_zero(existing.get("Balance"))
        if record.get("Active") is False and existing.get("Active", True) and record["Balance"] != Decimal(0):
            # GUESS (reference §3.5 ⚠): code 6000 with QBO's observed wording.
            raise faults.business_validation(
                "Delete List Has Balance Error : This customer cannot be deleted because it has a non-zero "
                "balance.",
                "Active",
            )
    record["BalanceWithJobs"] = decimal_or_zero(
        (existing or record).get("BalanceWithJobs", record["Balance"])
    )
    record.setdefault("Taxable", state.tax_model == "us")
    record.setdefault("PreferredDeliveryMethod", "Print")
    record["IsProject"] = False
    assign_address_ids(engine, record, existing, ("BillAddr", "ShipAddr"))
    _name_refs(engine, record)


def _name_refs(engine: Engine, record: Record) -> None:
    for key, entity in (("SalesTermRef", "Term"), ("PaymentMethodRef", "PaymentMethod"), ("TermRef", "Term")):
        ref = record.get(key)
        if isinstance(ref, dict):
            name = engine.state.display_name(entity, str(ref["value"]))
            record[key] = {"value": str(ref["value"]), **({"name": name} if name else {})}


def build_item(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    record = dict(merged)
    name = str(record.get("Name") or "").strip()
    if not name:
        raise faults.required("Name")
    record["Name"] = name
    item_type = str(record.get("Type") or (existing or {}).get("Type") or "Service")
    if existing is None and item_type not in _CREATABLE_ITEM_TYPES:
        # GUESS: Group, Assembly and the special item types cannot be created through the API.
        raise faults.invalid_enum("Type", item_type)
    record["Type"] = item_type
    parent_ref = record.get("ParentRef")
    if parent_ref:
        parent = engine.state.get("Item", str(parent_ref["value"]))
        assert parent is not None
        record["SubItem"] = True
        record["Level"] = int(parent.get("Level", 0)) + 1
        record["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{name}"
        record["ParentRef"] = {"value": parent["Id"], "name": parent["FullyQualifiedName"]}
    else:
        record.pop("Level", None)
        record.pop("SubItem", None)
        record["FullyQualifiedName"] = name
    _ensure_unique(
        engine,
        ("Item",),
        record["FullyQualifiedName"],
        ("Item", existing["Id"]) if existing else None,
        "product or service",
    )
    if item_type in {"Service", "Inventory", "NonInventory"} and not record.get("IncomeAccountRef"):
        raise faults.required("IncomeAccountRef")
    if item_type == "Inventory":
        for required in ("AssetAccountRef", "ExpenseAccountRef", "QtyOnHand", "InvStartDate"):
            if required not in record:
                raise faults.required(required)
        record["TrackQtyOnHand"] = True
    else:
        record.setdefault("TrackQtyOnHand", False)
    record.setdefault("Active", True)
    if item_type != "Category":
        record.setdefault("UnitPrice", Decimal(0))
        record.setdefault("PurchaseCost", Decimal(0))
    for key in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
        ref = record.get(key)
        if isinstance(ref, dict):
            account_name = engine.state.display_name("Account", str(ref["value"]))
            record[key] = {"value": str(ref["value"]), **({"name": account_name} if account_name else {})}
    return record


def build_account(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    record = dict(merged)
    name = str(record.get("Name") or "").strip()
    if not name:
        raise faults.required("Name")
    if '"' in name:
        raise faults.business_validation(
            'Account names cannot contain a double quote (") or a colon (:).', "Name"
        )
    if ":" in str(record.get("AcctNum", "")):
        raise faults.business_validation("Account numbers cannot contain a colon (:).", "AcctNum")
    record["Name"] = name
    account_type = record.get("AccountType")
    if not account_type:
        raise faults.required("AccountType")
    default_sub_type, classification = ACCOUNT_TYPES[str(account_type)]
    record.setdefault("AccountSubType", default_sub_type)
    record["Classification"] = classification
    parent_ref = record.get("ParentRef")
    if parent_ref:
        parent = engine.state.get("Account", str(parent_ref["value"]))
        assert parent is not None
        record["SubAccount"] = True
        record["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{name}"
    else:
        record["SubAccount"] = False
        record["FullyQualifiedName"] = name
    _ensure_unique(
        engine,
        ("Account",),
        record["FullyQualifiedName"],
        ("Account", existing["Id"]) if existing else None,
        "account",
    )
    record.setdefault("Active", True)
    record["CurrentBalance"] = decimal_or_zero((existing or {}).get("CurrentBalance"))
    record["CurrentBalanceWithSubAccounts"] = decimal_or_zero(
        (existing or {}).get("CurrentBalanceWithSubAccounts")
    )
    if existing is not None and "CurrencyRef" in existing:
        record["CurrencyRef"] = existing["CurrencyRef"]
    else:
        code = str(record.get("CurrencyRef", {}).get("value") or engine.state.home_currency)
        if code not in engine.state.active_currencies():
            raise faults.invalid_reference("Currency", code, "CurrencyRef")
        record["CurrencyRef"] = engine.state.currency_ref(code)
    return record


def build_term(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    record = dict(merged)
    name = str(record.get("Name") or "").strip()
    if not name:
        raise faults.required("Name")
    record["Name"] = name
    _ensure_unique(engine, ("Term",), name, ("Term", existing["Id"]) if existing else None, "term")
    if "DueDays" in record:
        if not 0 <= int(record["DueDays"]) <= 999:
            raise faults.business_validation("DueDays must be between 0 and 999.", "DueDays")
        record["Type"] = "Standard"
        for key in ("DayOfMonthDue", "DueNextMonthDays", "DiscountDayOfMonth"):
            record.pop(key, None)
    elif "DayOfMonthDue" in record:
        if not 1 <= int(record["DayOfMonthDue"]) <= 31:
            raise faults.business_validation("DayOfMonthDue must be between 1 and 31.", "DayOfMonthDue")
        record["Type"] = "DateDriven"
        record.setdefault("DueNextMonthDays", 0)
    else:
        raise faults.required("DueDays", "DueDays or DayOfMonthDue")
    record.setdefault("Active", True)
    return record


def build_payment_method(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    record = dict(merged)
    name = str(record.get("Name") or "").strip()
    if not name:
        raise faults.required("Name")
    record["Name"] = name
    _ensure_unique(
        engine,
        ("PaymentMethod",),
        name,
        ("PaymentMethod", existing["Id"]) if existing else None,
        "payment method",
    )
    record.setdefault("Type", "NON_CREDIT_CARD")
    record.setdefault("Active", True)
    return record


def build_company_currency(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    state = engine.state
    record = dict(merged)
    code = str(record.get("Code") or "").upper()
    if not code:
        raise faults.required("Code")
    if existing is not None and code != existing["Code"]:
        raise faults.business_validation("A currency's code cannot be changed.", "Code")
    if code not in CURRENCY_NAMES:
        raise faults.invalid_reference("Currency", code, "Code")
    if not state.multicurrency:
        raise faults.business_validation("Multicurrency is not enabled for this company.", "Code")
    if code == state.home_currency:
        raise faults.business_validation("The home currency is always active.", "Code")
    if existing is None and any(row["Code"] == code for row in state.rows("CompanyCurrency")):
        raise faults.business_validation(f"Currency {code} is already in the currency list.", "Code")
    record["Code"] = code
    record["Name"] = CURRENCY_NAMES[code]
    record.setdefault("Active", True)
    return record


def build_exchange_rate(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    state = engine.state
    record = dict(merged)
    for key in ("SourceCurrencyCode", "Rate"):
        if key not in record:
            raise faults.required(key)
    record["SourceCurrencyCode"] = str(record["SourceCurrencyCode"]).upper()
    record["TargetCurrencyCode"] = str(record.get("TargetCurrencyCode") or state.home_currency).upper()
    if record["TargetCurrencyCode"] != state.home_currency:
        raise faults.business_validation(
            "TargetCurrencyCode must be the home currency.", "TargetCurrencyCode"
        )
    if record["SourceCurrencyCode"] not in state.active_currencies():
        raise faults.invalid_reference("Currency", record["SourceCurrencyCode"], "SourceCurrencyCode")
    if Decimal(record["Rate"]) <= 0:
        raise faults.business_validation("Rate must be positive.", "Rate")
    record.setdefault("AsOfDate", state.today().isoformat())
    return record


def build_settings(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    """CompanyInfo and Preferences: sparse updates of the writable parts."""
    if existing is None:
        raise faults.unsupported_operation(f"Operation Create is not supported for {entity}.")
    record: Record = dict(merged)
    if entity == "CompanyInfo":
        for key in (
            "Country",
            "CompanyStartDate",
            "SupportedLanguages",
            "DefaultTimeZone",
            "NameValue",
            "FiscalYearStartMonth",
        ):
            if key in existing:
                record[key] = existing[key]
        assign_address_ids(
            engine, record, existing, ("CompanyAddr", "CustomerCommunicationAddr", "LegalAddr")
        )
    return record


def rules() -> dict[str, EntityRules]:
    table: dict[str, EntityRules] = {name: EntityRules(build_party) for name in PARTIES}
    table["Item"] = EntityRules(build_item)
    table["Account"] = EntityRules(build_account)
    table["Term"] = EntityRules(build_term)
    table["PaymentMethod"] = EntityRules(build_payment_method)
    table["CompanyCurrency"] = EntityRules(build_company_currency)
    table["ExchangeRate"] = EntityRules(build_exchange_rate)
    table["CompanyInfo"] = EntityRules(build_settings)
    table["Preferences"] = EntityRules(build_settings)
    return table


def lookup_exchange_rate(engine: Engine, source: str, as_of: str | None) -> Record | None:
    """GET /exchangerate: the latest stored rate on or before `as_of` (GUESS: no rate feed is emulated)."""
    rows = [
        row
        for row in engine.state.rows("ExchangeRate")
        if row["SourceCurrencyCode"] == source.upper() and (as_of is None or str(row["AsOfDate"]) <= as_of)
    ]
    if not rows:
        return None
    best: dict[str, Any] = max(rows, key=lambda row: (str(row["AsOfDate"]), int(row["Id"])))
    return best
