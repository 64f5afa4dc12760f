"""The QBO side of the demo agency (docs/sandbox.md) and of a brand-new company, for both tax models.

Facts tests may rely on (Ids are strings, deterministic, identical in both tax models unless noted):

Company "Northwind Pixel Studio Inc.", realm `DEFAULT_REALM_ID`. Global model (default): Country CA,
home currency CAD, foreign currency USD, time zone America/Montreal, `PartnerTaxEnabled` false.
US model: Country US (New York), home USD, foreign CAD, America/New_York, `PartnerTaxEnabled` true (AST).
Both: multicurrency on, `CustomTxnNumbers` true, duplicate check/bill number warnings on,
`BookCloseDate` 2025-12-31, default terms Net 30.

Kept by `seed="empty"` (what a brand-new company has): the accounts in `ACCOUNTS`, the tax agencies,
rates and codes, terms `TERMS`, items Services (Id 1) and Hours (Id 2), payment methods, the foreign
currency, exchange rates, company info and preferences.

Added by `seed="demo"`: customers `CUSTOMERS` (Id 1 = "ACME Corp." … Id 10 = "O'Reilly Media", then
unrelated sample customers), vendors `VENDORS`, employees `EMPLOYEES`. No transactions.

Global tax codes (`TAX_CODES_GLOBAL`): "1" GST 5 %; "2" "GST/QST QC - 9.975" = GST 5 % + QST 9.975 %
(not compound); "3" Exempt; "4" Zero-rated; "5" Out of Scope. Sales rates: "1" GST 5, "3" QST 9.975.
US AST codes: one TaxCode and TaxRate per ship-to state (`AST_CODES_US`): NY 8.875, CA 7.25,
WA 10.25, TX 8.25, any other 6.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from paymo_qb_mcp.sandbox.quickbooks.state import CURRENCY_NAMES, QboState, Record

DEFAULT_REALM_ID = "9341455130166501"
COMPANY_NAME = "Northwind Pixel Studio Inc."
BOOK_CLOSE_DATE = "2025-12-31"
TIME_ZONES = {"global": "America/Montreal", "us": "America/New_York"}
HOME_CURRENCY = {"global": "CAD", "us": "USD"}
FOREIGN_CURRENCY = {"global": "USD", "us": "CAD"}

# Accounts: Id → (name, AccountType, AccountSubType, Classification). The bank and the tax liability are
# named the local way in each model.
ACCOUNT_CHEQUING = "1"
ACCOUNT_UNDEPOSITED_FUNDS = "2"
ACCOUNT_RECEIVABLE = "3"
ACCOUNT_PAYABLE = "4"
ACCOUNT_VISA = "5"
ACCOUNT_SERVICES_INCOME = "6"
ACCOUNT_PRODUCT_INCOME = "7"
ACCOUNT_ADVERTISING = "8"
ACCOUNT_OFFICE_SOFTWARE = "9"
ACCOUNT_TRAVEL = "10"
ACCOUNT_MEALS = "11"
ACCOUNT_CAR_AND_TRUCK = "12"
ACCOUNT_MILEAGE = "13"  # a sub-account: "Car and Truck:Mileage"
ACCOUNT_LEGAL = "14"
ACCOUNT_UNCATEGORIZED_EXPENSE = "15"
ACCOUNT_TAX_PAYABLE = "16"
ACCOUNTS: dict[str, tuple[str, str, str, str]] = {
    ACCOUNT_CHEQUING: ("Chequing", "Bank", "Checking", "Asset"),
    ACCOUNT_UNDEPOSITED_FUNDS: ("Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
    ACCOUNT_RECEIVABLE: ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
    ACCOUNT_PAYABLE: ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", "Liability"),
    ACCOUNT_VISA: ("Visa", "Credit Card", "CreditCard", "Liability"),
    ACCOUNT_SERVICES_INCOME: ("Services", "Income", "ServiceFeeIncome", "Revenue"),
    ACCOUNT_PRODUCT_INCOME: ("Sales of Product Income", "Income", "SalesOfProductIncome", "Revenue"),
    ACCOUNT_ADVERTISING: ("Advertising", "Expense", "AdvertisingPromotional", "Expense"),
    ACCOUNT_OFFICE_SOFTWARE: (
        "Office Supplies and Software",
        "Expense",
        "OfficeGeneralAdministrativeExpenses",
        "Expense",
    ),
    ACCOUNT_TRAVEL: ("Travel", "Expense", "Travel", "Expense"),
    ACCOUNT_MEALS: ("Meals and Entertainment", "Expense", "EntertainmentMeals", "Expense"),
    ACCOUNT_CAR_AND_TRUCK: ("Car and Truck", "Expense", "Auto", "Expense"),
    ACCOUNT_MILEAGE: ("Mileage", "Expense", "Auto", "Expense"),
    ACCOUNT_LEGAL: ("Legal and Professional Fees", "Expense", "LegalProfessionalFees", "Expense"),
    ACCOUNT_UNCATEGORIZED_EXPENSE: (
        "Uncategorized Expense",
        "Expense",
        "OtherMiscellaneousServiceCost",
        "Expense",
    ),
    ACCOUNT_TAX_PAYABLE: ("GST/QST Payable", "Other Current Liability", "GlobalTaxPayable", "Liability"),
}
US_ACCOUNT_NAMES = {ACCOUNT_CHEQUING: "Checking", ACCOUNT_TAX_PAYABLE: "Sales Tax Payable"}

ITEM_SERVICES = "1"
ITEM_HOURS = "2"

TERM_DUE_ON_RECEIPT = "1"
TERM_NET_15 = "2"
TERM_NET_30 = "3"
TERM_NET_60 = "4"
TERMS = {TERM_DUE_ON_RECEIPT: ("Due on receipt", 0), TERM_NET_15: ("Net 15", 15), TERM_NET_30: ("Net 30", 30)}
TERMS[TERM_NET_60] = ("Net 60", 60)

PAYMENT_METHOD_CASH = "1"
PAYMENT_METHOD_CHEQUE = "2"  # "Check" in the US model
PAYMENT_METHOD_CREDIT_CARD = "3"
PAYMENT_METHOD_EFT = "4"

# Global model tax: agencies, rates (Id → name, percent, agency, special type) and codes.
TAX_CODE_GST = "1"
TAX_CODE_GST_QST = "2"
TAX_CODE_EXEMPT = "3"
TAX_CODE_ZERO_RATED = "4"
TAX_CODE_OUT_OF_SCOPE = "5"
TAX_RATE_GST = "1"
TAX_RATE_GST_PURCHASE = "2"
TAX_RATE_QST = "3"
TAX_RATE_QST_PURCHASE = "4"
TAX_RATES_GLOBAL: dict[str, tuple[str, str, str, str]] = {
    TAX_RATE_GST: ("GST", "5", "1", "NONE"),
    TAX_RATE_GST_PURCHASE: ("GST (purchase)", "5", "1", "NONE"),
    TAX_RATE_QST: ("QST", "9.975", "2", "NONE"),
    TAX_RATE_QST_PURCHASE: ("QST (purchase)", "9.975", "2", "NONE"),
    "5": ("Exempt", "0", "1", "NONE"),
    "6": ("Zero-rated", "0", "1", "ZERO_RATE"),
    "7": ("Out of Scope", "0", "1", "NONE"),
}
# Code Id → (name, description, sales rate Ids, purchase rate Ids).
TAX_CODES_GLOBAL: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    TAX_CODE_GST: ("GST", "GST 5%", (TAX_RATE_GST,), (TAX_RATE_GST_PURCHASE,)),
    TAX_CODE_GST_QST: (
        "GST/QST QC - 9.975",
        "GST 5% + QST 9.975%",
        (TAX_RATE_GST, TAX_RATE_QST),
        (TAX_RATE_GST_PURCHASE, TAX_RATE_QST_PURCHASE),
    ),
    TAX_CODE_EXEMPT: ("Exempt", "Exempt 0%", ("5",), ("5",)),
    TAX_CODE_ZERO_RATED: ("Zero-rated", "Zero-rated 0%", ("6",), ("6",)),
    TAX_CODE_OUT_OF_SCOPE: ("Out of Scope", "Out of Scope 0%", ("7",), ("7",)),
}
TAX_AGENCIES_GLOBAL = {"1": "Canada Revenue Agency", "2": "Revenu Québec"}

# US model AST: ship-to state ("" = elsewhere) → (TaxCode Id, TaxRate Id, name, percent).
AST_CODES_US: dict[str, tuple[str, str, str, str]] = {
    "NY": ("1", "1", "New York City", "8.875"),
    "CA": ("2", "2", "California", "7.25"),
    "WA": ("3", "3", "Washington", "10.25"),
    "TX": ("4", "4", "Texas", "8.25"),
    "": ("5", "5", "Out of state", "6"),
}
TAX_AGENCY_US = "1"

# Demo customers, in Id order: name, e-mail, address key, options. Customers that match a Paymo client
# share its bill-to place (the Paymo seed's addresses), so address evidence corroborates those matches,
# except Smith and Sons, matched by e-mail, whose QBO address is out of date (a local one: the
# "update details" case). Jones Consulting is deliberately elsewhere (London). The unrelated sample
# customers are local (Montreal in the global model, New York in the US model).
CUSTOMER_ACME = "1"
CUSTOMER_CAFE_LUMIERE = "2"
CUSTOMER_SMITH_AND_SONS = "3"
CUSTOMER_GLOBEX = "4"  # in the foreign currency (USD in the global model, CAD in the US model)
CUSTOMER_INITECH = "5"
CUSTOMER_JONES_CONSULTING = "6"  # London: a different organisation from Paymo's Montreal client
CUSTOMER_UMBRELLA_EAST = "7"
CUSTOMER_UMBRELLA_WEST = "8"
CUSTOMER_HOOLI = "9"  # inactive
CUSTOMER_OREILLY = "10"
CUSTOMERS: list[tuple[str, str | None, str, dict[str, Any]]] = [
    ("ACME Corp.", "billing@acme.example", "acme", {"SalesTermRef": TERM_NET_30}),
    ("Cafe Lumiere", None, "cafe-lumiere", {}),
    ("Smith and Sons", "office@smithsons.example", "local-3", {}),
    ("Globex", "finance@globex.example", "globex", {"foreign": True}),
    ("Initech Inc", "accounts@initech.example", "initech", {}),
    ("Jones Consulting", "office@jones-consulting-uk.example", "london", {}),
    ("Umbrella Health (East)", None, "umbrella-east", {}),
    ("Umbrella Health (West)", None, "umbrella-west", {}),
    ("Hooli", None, "hooli", {"Active": False}),
    ("O'Reilly Media", "orders@oreilly.example", "oreilly", {}),
    ("Amy's Bird Sanctuary", "birds@intuit.example", "local-9", {}),
    ("Bill's Windsurf Shop", "surf@intuit.example", "local-10", {}),
    ("Cool Cars", "cool_cars@intuit.example", "local-11", {}),
    ("Dukes Basketball Camp", "dukes@intuit.example", "local-12", {}),
    ("Freeman Sporting Goods", "sports@intuit.example", "local-13", {}),
    ("Jeff's Jalopies", "jalopies@intuit.example", "local-14", {}),
    ("Kookies by Kathy", "qbwebsamplecompany@yahoo.com", "local-15", {}),
    ("Red Rock Diner", "qbwebsamplecompany@yahoo.com", "local-16", {}),
    ("Sushi by Katsuyuki", "sushi@intuit.example", "local-17", {}),
    ("Weiskopf Consulting", "consult@intuit.example", "local-18", {}),
]

VENDOR_WAYNE = "1"
VENDOR_PIXEL_FREELANCE = "2"
VENDOR_ADOBE = "3"
VENDORS: list[tuple[str, str]] = [
    ("Wayne Enterprises", "accounts@wayne.example"),
    ("Pixel Freelance Co.", "hello@pixelfreelance.example"),
    ("Adobe", "billing@adobe.example"),
]

EMPLOYEE_ALICE = "1"
EMPLOYEE_BEN = "2"
EMPLOYEES: list[tuple[str, str, str, str]] = [
    ("Alice", "Tremblay", "alice@northwindpixel.example", "150"),
    ("Ben", "Okafor", "ben@northwindpixel.example", "120"),
]

_LOCAL_STREETS = [
    "4200 Boulevard Saint-Laurent",
    "88 Rue Saint-Paul Ouest",
    "1250 Rue Peel",
    "300 Rue Saint-Antoine Ouest",
    "5333 Avenue Casgrain",
    "9 Place Ville Marie",
    "1001 Rue Sherbrooke Est",
    "2000 Avenue McGill College",
    "4 Rue Notre-Dame Est",
    "77 Rue Wellington",
    "1500 Avenue Atwater",
    "3600 Rue Saint-Denis",
    "700 Rue De la Gauchetière",
    "6000 Chemin de la Côte-des-Neiges",
    "250 Rue Sainte-Catherine Ouest",
    "410 Rue Saint-Nicolas",
    "1188 Avenue Union",
    "3700 Rue Saint-Urbain",
]
_NY_STREETS = [
    "350 Fifth Avenue",
    "11 Wall Street",
    "200 Park Avenue",
    "1 Bryant Park",
    "30 Rockefeller Plaza",
    "45 Rockefeller Plaza",
    "60 Hudson Street",
    "120 Broadway",
    "85 Broad Street",
    "101 Avenue of the Americas",
    "225 Liberty Street",
    "1 Liberty Plaza",
    "55 Water Street",
    "4 Times Square",
    "550 Madison Avenue",
    "7 World Trade Center",
    "375 Park Avenue",
    "28 Liberty Street",
]


_FIXED_ADDRESSES: dict[str, tuple[str, str, str, str, str]] = {
    "acme": ("500 Industrial Way", "Toronto", "ON", "M5V 2T6", "CA"),
    "cafe-lumiere": ("2100 Rue Saint-Denis", "Montréal", "QC", "H2X 3K9", "CA"),
    "globex": ("Friedrichstraße 100", "Berlin", "", "10117", "DE"),
    "initech": ("4120 Freidrich Ln", "Austin", "TX", "78744", "US"),
    "london": ("10 Finsbury Square", "London", "", "EC2A 1AF", "GB"),
    "umbrella-east": ("1 Umbrella Plaza", "Ottawa", "ON", "K1P 1J1", "CA"),
    "umbrella-west": ("1 Umbrella Plaza, West Wing", "Ottawa", "ON", "K1P 1J1", "CA"),
    "hooli": ("1 Hooli Way", "Palo Alto", "CA", "94301", "US"),
    "oreilly": ("1005 Gravenstein Hwy N", "Sebastopol", "CA", "95472", "US"),
}


def _address(tax_model: str, key: str) -> dict[str, str]:
    if key in _FIXED_ADDRESSES:
        line1, city, region, postal_code, country = _FIXED_ADDRESSES[key]
        address = {"Line1": line1, "City": city, "CountrySubDivisionCode": region}
        address.update({"PostalCode": postal_code, "Country": country})
        return {name: value for name, value in address.items() if value}
    index = int(key.split("-")[1]) - 1
    if tax_model == "us":
        return {
            "Line1": _NY_STREETS[index % len(_NY_STREETS)],
            "City": "New York",
            "CountrySubDivisionCode": "NY",
            "PostalCode": f"{10001 + index}",
            "Country": "US",
        }
    return {
        "Line1": _LOCAL_STREETS[index % len(_LOCAL_STREETS)],
        "City": "Montreal",
        "CountrySubDivisionCode": "QC",
        "PostalCode": f"H{2 + index % 7}X {1 + index % 9}A{index % 10}",
        "Country": "CA",
    }


def load(state: QboState, seed: Literal["demo", "empty"]) -> None:
    """Fill an empty state with the seed; Ids are assigned explicitly so they never drift."""
    model = state.tax_model
    home = HOME_CURRENCY[model]
    foreign = FOREIGN_CURRENCY[model]
    _company(state)
    state.insert(
        "CompanyCurrency", {"Code": foreign, "Name": CURRENCY_NAMES[foreign], "Active": True}, ident="1"
    )
    rates = (
        {"2026-10-01": "1.3750", "2026-11-01": "1.3900"}
        if model == "global"
        else {"2026-10-01": "0.7273", "2026-11-01": "0.7194"}
    )
    for index, (as_of, rate) in enumerate(rates.items(), start=1):
        state.insert(
            "ExchangeRate",
            {
                "SourceCurrencyCode": foreign,
                "TargetCurrencyCode": home,
                "Rate": Decimal(rate),
                "AsOfDate": as_of,
            },
            ident=str(index),
        )
    for ident, (name, account_type, sub_type, classification) in ACCOUNTS.items():
        if model == "us":
            name = US_ACCOUNT_NAMES.get(ident, name)
        record: Record = {
            "Name": name,
            "SubAccount": ident == ACCOUNT_MILEAGE,
            "FullyQualifiedName": name,
            "Active": True,
            "Classification": classification,
            "AccountType": account_type,
            "AccountSubType": sub_type,
            "CurrentBalance": Decimal(0),
            "CurrentBalanceWithSubAccounts": Decimal(0),
            "CurrencyRef": state.currency_ref(home),
        }
        if ident == ACCOUNT_MILEAGE:
            record["ParentRef"] = {"value": ACCOUNT_CAR_AND_TRUCK}
            record["FullyQualifiedName"] = f"{ACCOUNTS[ACCOUNT_CAR_AND_TRUCK][0]}:{name}"
        state.insert("Account", record, ident=ident)
    for ident, name in ((ITEM_SERVICES, "Services"), (ITEM_HOURS, "Hours")):
        state.insert(
            "Item",
            {
                "Name": name,
                "Active": True,
                "FullyQualifiedName": name,
                "Taxable": model == "us",
                "UnitPrice": Decimal(0),
                "Type": "Service",
                "IncomeAccountRef": {"value": ACCOUNT_SERVICES_INCOME, "name": "Services"},
                "PurchaseCost": Decimal(0),
                "TrackQtyOnHand": False,
            },
            ident=ident,
        )
    for ident, (name, days) in TERMS.items():
        state.insert(
            "Term",
            {"Name": name, "Active": True, "Type": "Standard", "DueDays": days, "DiscountDays": 0},
            ident=ident,
        )
    methods = [("Cash", "NON_CREDIT_CARD"), ("Cheque" if model == "global" else "Check", "NON_CREDIT_CARD")]
    methods += [("Credit Card", "CREDIT_CARD"), ("EFT", "NON_CREDIT_CARD")]
    for index, (name, kind) in enumerate(methods, start=1):
        state.insert("PaymentMethod", {"Name": name, "Active": True, "Type": kind}, ident=str(index))
    if model == "global":
        _global_tax(state)
    else:
        _us_tax(state)
    if seed == "demo":
        _demo_parties(state)


def _company(state: QboState) -> None:
    model = state.tax_model
    address = (
        {
            "Line1": "5333 Avenue Casgrain, Suite 1200",
            "City": "Montreal",
            "CountrySubDivisionCode": "QC",
            "PostalCode": "H2T 1X3",
            "Country": "CA",
        }
        if model == "global"
        else {
            "Line1": "350 Fifth Avenue, Suite 4100",
            "City": "New York",
            "CountrySubDivisionCode": "NY",
            "PostalCode": "10118",
            "Country": "US",
        }
    )
    addresses = {
        key: {"Id": state.next_address_id(), **address}
        for key in ("CompanyAddr", "CustomerCommunicationAddr", "LegalAddr")
    }
    state.insert(
        "CompanyInfo",
        {
            "CompanyName": COMPANY_NAME,
            "LegalName": COMPANY_NAME,
            **addresses,
            "PrimaryPhone": {"FreeFormNumber": "(514) 555-0142" if model == "global" else "(212) 555-0142"},
            "CompanyStartDate": "2024-01-01",
            "FiscalYearStartMonth": "January",
            "Country": "CA" if model == "global" else "US",
            "Email": {"Address": "books@northwindpixel.example"},
            "WebAddr": {"URI": "https://northwindpixel.example"},
            "SupportedLanguages": "en",
            "DefaultTimeZone": TIME_ZONES[model],
            "NameValue": [
                {"Name": "NeoEnabled", "Value": "true"},
                {"Name": "IsQbdtMigrated", "Value": "false"},
                {"Name": "SubscriptionStatus", "Value": "SUBSCRIBED"},
                {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
                {"Name": "PayrollFeature", "Value": "false"},
                {"Name": "AccountantFeature", "Value": "false"},
                {"Name": "ItemCategoriesFeature", "Value": "true"},
                {"Name": "AssignedTime", "Value": "2024-01-01T09:00:00-05:00"},
            ],
        },
        ident="1",
    )
    state.insert(
        "Preferences",
        {
            "AccountingInfoPrefs": {
                "FirstMonthOfFiscalYear": "January",
                "UseAccountNumbers": False,
                "TaxYearMonth": "January",
                "ClassTrackingPerTxn": False,
                "TrackDepartments": False,
                "DepartmentTerminology": "Location",
                "ClassTrackingPerTxnLine": False,
                "BookCloseDate": BOOK_CLOSE_DATE,
                "CustomerTerminology": "Customers",
            },
            "ProductAndServicesPrefs": {
                "ForSales": True,
                "ForPurchase": True,
                "QuantityWithPriceAndRate": True,
                "QuantityOnHand": True,
            },
            "SalesFormsPrefs": {
                "CustomTxnNumbers": True,
                "AllowDeposit": False,
                "AllowDiscount": True,
                "AllowEstimates": True,
                "AllowServiceDate": True,
                "AllowShipping": False,
                "DefaultTerms": {"value": TERM_NET_30},
                "AutoApplyCredit": True,
                "AutoApplyPayments": True,
                "ETransactionEnabledStatus": "NotApplicable",
                "ETransactionAttachPDF": False,
                "ETransactionPaymentEnabled": False,
                "IPNSupportEnabled": False,
                "EmailCopyToCompany": False,
                "PrintItemWithZeroAmount": False,
                "UsingPriceLevels": False,
                "UsingProgressInvoicing": False,
            },
            "VendorAndPurchasesPrefs": {"TrackingByCustomer": True, "BillableExpenseTracking": True},
            "TimeTrackingPrefs": {
                "UseServices": True,
                "BillCustomers": True,
                "ShowBillRateToAll": False,
                "WorkWeekStartDate": "Monday",
                "MarkTimeEntriesBillable": True,
            },
            "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": model == "us"},
            "CurrencyPrefs": {
                "MultiCurrencyEnabled": True,
                "HomeCurrency": {"value": HOME_CURRENCY[model]},
            },
            "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
            "OtherPrefs": {
                "NameValue": [
                    {
                        "Name": "SalesFormsPrefs.DefaultCustomerMessage",
                        "Value": "Thank you for your business.",
                    },
                    {"Name": "VendorAndPurchasesPrefs.UseCustomTxnNumbers", "Value": "true"},
                    {"Name": "VendorAndPurchasesPrefs.PurchaseOrderEnabled", "Value": "true"},
                    {"Name": "TimeTrackingFeatureEnabled", "Value": "true"},
                    {"Name": "ProjectsEnabled", "Value": "false"},
                    {"Name": "WarnDuplicateCheckNumber", "Value": "true"},
                    {"Name": "WarnDuplicateBillNumber", "Value": "true"},
                    {"Name": "WarnDuplicateJournalNumber", "Value": "false"},
                ]
            },
        },
        ident="1",
    )


def _tax_rate(
    state: QboState, ident: str, name: str, percent: str, agency: str, special: str = "NONE"
) -> None:
    state.insert(
        "TaxRate",
        {
            "Name": name,
            "Description": name,
            "Active": True,
            "RateValue": Decimal(percent),
            "AgencyRef": {"value": agency},
            "SpecialTaxType": special,
            "DisplayType": "ReadOnly",
            "EffectiveTaxRate": [
                {"RateValue": Decimal(percent), "EffectiveDate": "2013-01-01T00:00:00-05:00"}
            ],
        },
        ident=ident,
    )


def _rate_list(rate_ids: tuple[str, ...]) -> dict[str, Any]:
    return {
        "TaxRateDetail": [
            {"TaxRateRef": {"value": rate_id}, "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}
            for rate_id in rate_ids
        ]
    }


def _tax_code(
    state: QboState,
    ident: str,
    name: str,
    description: str,
    sales: tuple[str, ...],
    purchase: tuple[str, ...],
) -> None:
    taxable = any(Decimal(state.tables["TaxRate"][rate]["RateValue"]) > 0 for rate in sales)
    state.insert(
        "TaxCode",
        {
            "Name": name,
            "Description": description,
            "Active": True,
            "Hidden": False,
            "Taxable": taxable,
            "TaxGroup": len(sales) > 1,
            "SalesTaxRateList": _rate_list(sales),
            "PurchaseTaxRateList": _rate_list(purchase),
            "TaxCodeConfigType": "SYSTEM_GENERATED",
        },
        ident=ident,
    )


def _tax_agency(state: QboState, ident: str, name: str) -> None:
    state.insert(
        "TaxAgency",
        {
            "DisplayName": name,
            "TaxTrackedOnSales": True,
            "TaxTrackedOnPurchases": state.tax_model == "global",
        },
        ident=ident,
    )


def _global_tax(state: QboState) -> None:
    for ident, name in TAX_AGENCIES_GLOBAL.items():
        _tax_agency(state, ident, name)
    for ident, (name, percent, agency, special) in TAX_RATES_GLOBAL.items():
        _tax_rate(state, ident, name, percent, agency, special)
    for ident, (name, description, sales, purchase) in TAX_CODES_GLOBAL.items():
        _tax_code(state, ident, name, description, sales, purchase)


def _us_tax(state: QboState) -> None:
    _tax_agency(state, TAX_AGENCY_US, "New York State Department of Taxation and Finance")
    for jurisdiction, (code_id, rate_id, name, percent) in AST_CODES_US.items():
        _tax_rate(state, rate_id, f"{name} {percent}%", percent, TAX_AGENCY_US)
        _tax_code(state, code_id, name, f"{name} (Automated Sales Tax)", (rate_id,), ())
        state.ast_codes[jurisdiction] = (code_id, rate_id)


def _demo_parties(state: QboState) -> None:
    model = state.tax_model
    home = HOME_CURRENCY[model]
    for index, (name, email, address_key, options) in enumerate(CUSTOMERS, start=1):
        currency = FOREIGN_CURRENCY[model] if options.get("foreign") else home
        customer: Record = {
            "Taxable": True,
            "BillAddr": {"Id": state.next_address_id(), **_address(model, address_key)},
            "Job": False,
            "BillWithParent": False,
            "Balance": Decimal(0),
            "BalanceWithJobs": Decimal(0),
            "CurrencyRef": state.currency_ref(currency),
            "PreferredDeliveryMethod": "Print",
            "IsProject": False,
            "FullyQualifiedName": name,
            "CompanyName": name,
            "DisplayName": name,
            "PrintOnCheckName": name,
            "Active": options.get("Active", True),
        }
        if email is not None:
            customer["PrimaryEmailAddr"] = {"Address": email}
        if "SalesTermRef" in options:
            customer["SalesTermRef"] = {"value": options["SalesTermRef"]}
        state.insert("Customer", customer, ident=str(index))
    for index, (name, email) in enumerate(VENDORS, start=1):
        state.insert(
            "Vendor",
            {
                "Balance": Decimal(0),
                "Vendor1099": False,
                "CurrencyRef": state.currency_ref(home),
                "CompanyName": name,
                "DisplayName": name,
                "PrintOnCheckName": name,
                "Active": True,
                "PrimaryEmailAddr": {"Address": email},
            },
            ident=str(index),
        )
    for index, (given, family, email, rate) in enumerate(EMPLOYEES, start=1):
        display = f"{given} {family}"
        state.insert(
            "Employee",
            {
                "BillableTime": True,
                "BillRate": Decimal(rate),
                "HiredDate": "2024-01-15",
                "GivenName": given,
                "FamilyName": family,
                "DisplayName": display,
                "PrintOnCheckName": display,
                "Active": True,
                "PrimaryEmailAddr": {"Address": email},
            },
            ident=str(index),
        )
