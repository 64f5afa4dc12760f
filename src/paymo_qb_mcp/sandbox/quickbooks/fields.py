"""Field specifications of every entity the emulator serves: names, types, lengths, enums, references.

The names come from Intuit's XSD (a test checks each one exists there); the lengths, enums and
read-only markers from the API reference as summarised in `quickbooks-api.md` §8. Unknown keys are
rejected (checklist item 19), read-only keys are accepted and ignored, as QBO does.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace


class Kind(enum.Enum):
    STRING = "string"
    EMAIL = "email"  # a string that must look like an RFC 822 address (2210)
    DECIMAL = "decimal"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    REF = "ref"  # {"value", "name", "type"}
    MEMO = "memo"  # {"value"}
    OBJECT = "object"
    ANY = "any"  # accepted as is (JAXB extension blobs, preference groups)


@dataclass(frozen=True)
class Field:
    kind: Kind
    max_length: int | None = None
    choices: frozenset[str] | None = None
    target: str | None = None  # REF: the entity whose Id `value` must name (checked generically)
    read_only: bool = False
    children: Mapping[str, Field] | None = None
    repeated: bool = False
    plain_name: bool = False  # a display name: no ':' tab or newline


def string(max_length: int | None = None) -> Field:
    return Field(Kind.STRING, max_length=max_length)


def name_string(max_length: int) -> Field:
    return Field(Kind.STRING, max_length=max_length, plain_name=True)


def choice(*values: str) -> Field:
    return Field(Kind.STRING, choices=frozenset(values))


def ref(target: str | None = None) -> Field:
    return Field(Kind.REF, target=target)


def obj(**children: Field) -> Field:
    return Field(Kind.OBJECT, children=children)


def many(field: Field) -> Field:
    return replace(field, repeated=True)


def read_only(field: Field) -> Field:
    return replace(field, read_only=True)


DECIMAL = Field(Kind.DECIMAL)
INTEGER = Field(Kind.INTEGER)
BOOLEAN = Field(Kind.BOOLEAN)
DATE = Field(Kind.DATE)
DATETIME = Field(Kind.DATETIME)
ANY = Field(Kind.ANY)
STRING = string()

ADDRESS = obj(
    Id=read_only(STRING),
    Line1=string(500),
    Line2=string(500),
    Line3=string(500),
    Line4=string(500),
    Line5=string(500),
    City=string(255),
    Country=string(255),
    CountryCode=string(255),
    CountrySubDivisionCode=string(255),
    PostalCode=string(30),
    PostalCodeSuffix=string(30),
    Lat=STRING,
    Long=STRING,
    Note=string(2000),
)
EMAIL = obj(Address=Field(Kind.EMAIL, max_length=100))
PHONE = obj(FreeFormNumber=string(30))
WEBSITE = obj(URI=string(1000))
METADATA = read_only(
    obj(
        CreateTime=DATETIME,
        LastUpdatedTime=DATETIME,
        CreatedByRef=ref(),
        LastModifiedByRef=ref(),
        LastChangedInQB=DATETIME,
    )
)
LINKED_TXN = many(obj(TxnId=STRING, TxnType=STRING, TxnLineId=STRING))
CUSTOM_FIELD = many(
    obj(
        DefinitionId=STRING,
        Name=STRING,
        Type=choice("StringType", "BooleanType", "NumberType", "DateType"),
        StringValue=STRING,
        BooleanValue=BOOLEAN,
        DateValue=DATE,
        NumberValue=DECIMAL,
    )
)
# CurrencyRef.value is an ISO 4217 code, checked against the company's currencies by the entity rules.
CURRENCY_REF = ref()
# TaxCodeRef is checked by the tax rules: a TaxCode Id (global) or the pseudo-codes TAX/NON (US AST).
TAX_CODE_REF = ref()
BILLABLE_STATUS = choice("Billable", "NotBillable", "HasBeenBilled")
GLOBAL_TAX_CALCULATION = choice("TaxExcluded", "TaxInclusive", "NotApplicable")
PRINT_STATUS = choice("NotSet", "NeedToPrint", "PrintComplete")
EMAIL_STATUS = choice("NotSet", "NeedToSend", "EmailSent")
MARKUP = obj(
    PercentBased=BOOLEAN, Value=DECIMAL, Percent=DECIMAL, PriceLevelRef=ref(), MarkUpIncomeAccountRef=ref()
)

LINE_DETAIL_TYPES = frozenset(
    {
        "PaymentLineDetail",
        "DiscountLineDetail",
        "TaxLineDetail",
        "SalesItemLineDetail",
        "ItemBasedExpenseLineDetail",
        "AccountBasedExpenseLineDetail",
        "DepositLineDetail",
        "PurchaseOrderItemLineDetail",
        "ItemReceiptLineDetail",
        "JournalEntryLineDetail",
        "GroupLineDetail",
        "DescriptionOnly",
        "SubTotalLineDetail",
        "SalesOrderItemLineDetail",
        "TDSLineDetail",
        "ReimburseLineDetail",
        "ItemAdjustmentLineDetail",
    }
)
# The JSON key that carries each DetailType's object (note DescriptionOnly's mismatch).
DETAIL_KEY = {
    "SalesItemLineDetail": "SalesItemLineDetail",
    "DescriptionOnly": "DescriptionLineDetail",
    "DiscountLineDetail": "DiscountLineDetail",
    "SubTotalLineDetail": "SubTotalLineDetail",
    "TaxLineDetail": "TaxLineDetail",
    "ItemBasedExpenseLineDetail": "ItemBasedExpenseLineDetail",
    "AccountBasedExpenseLineDetail": "AccountBasedExpenseLineDetail",
    "GroupLineDetail": "GroupLineDetail",
}

LINE = obj(
    Id=STRING,
    LineNum=INTEGER,
    Description=string(4000),
    Amount=DECIMAL,
    LinkedTxn=LINKED_TXN,
    DetailType=Field(Kind.STRING, choices=LINE_DETAIL_TYPES),
    SalesItemLineDetail=obj(
        ItemRef=ref("Item"),
        ClassRef=ref("Class"),
        UnitPrice=DECIMAL,
        RatePercent=DECIMAL,
        PriceLevelRef=ref(),
        MarkupInfo=MARKUP,
        Qty=DECIMAL,
        ItemAccountRef=read_only(ref()),
        TaxCodeRef=TAX_CODE_REF,
        ServiceDate=DATE,
        TaxInclusiveAmt=DECIMAL,
        DiscountRate=DECIMAL,
        DiscountAmt=DECIMAL,
        SalesItemLineDetailEx=ANY,
    ),
    DescriptionLineDetail=obj(ServiceDate=DATE, TaxCodeRef=TAX_CODE_REF, DescriptionLineDetailEx=ANY),
    DiscountLineDetail=obj(
        DiscountRef=ref(),
        PercentBased=BOOLEAN,
        DiscountPercent=DECIMAL,
        DiscountAccountRef=ref("Account"),
        ServiceDate=DATE,
        ClassRef=ref("Class"),
        TaxCodeRef=TAX_CODE_REF,
        DiscountLineDetailEx=ANY,
    ),
    SubTotalLineDetail=obj(ItemRef=ref("Item"), ServiceDate=DATE),
    TaxLineDetail=obj(
        TaxRateRef=ref("TaxRate"),
        PercentBased=BOOLEAN,
        TaxPercent=DECIMAL,
        NetAmountTaxable=DECIMAL,
        TaxInclusiveAmount=DECIMAL,
        OverrideDeltaAmount=DECIMAL,
        ServiceDate=DATE,
        TaxLineDetailEx=ANY,
    ),
    ItemBasedExpenseLineDetail=obj(
        ItemRef=ref("Item"),
        ClassRef=ref("Class"),
        UnitPrice=DECIMAL,
        Qty=DECIMAL,
        MarkupInfo=MARKUP,
        PriceLevelRef=ref(),
        TaxCodeRef=TAX_CODE_REF,
        CustomerRef=ref("Customer"),
        BillableStatus=BILLABLE_STATUS,
        TaxInclusiveAmt=DECIMAL,
        ItemBasedExpenseLineDetailEx=ANY,
    ),
    AccountBasedExpenseLineDetail=obj(
        CustomerRef=ref("Customer"),
        ClassRef=ref("Class"),
        AccountRef=ref("Account"),
        BillableStatus=BILLABLE_STATUS,
        MarkupInfo=MARKUP,
        TaxAmount=DECIMAL,
        TaxCodeRef=TAX_CODE_REF,
        TaxInclusiveAmt=DECIMAL,
        ExpenseDetailLineDetailEx=ANY,
    ),
    GroupLineDetail=obj(GroupItemRef=ref("Item"), Quantity=DECIMAL, ServiceDate=DATE),
    CustomField=CUSTOM_FIELD,
    LineEx=ANY,
    ProjectRef=ref("Customer"),
)
TXN_TAX_DETAIL = obj(
    DefaultTaxCodeRef=ref(),
    TxnTaxCodeRef=ref("TaxCode"),
    TotalTax=DECIMAL,
    TaxReviewStatus=read_only(choice("NON_AST_TAX", "AST_TAX_OVERRIDE")),
    TaxLine=many(LINE),
    UseAutomatedSalesTax=BOOLEAN,
)

COMMON: dict[str, Field] = {
    "Id": STRING,
    "SyncToken": STRING,
    "MetaData": METADATA,
    "CustomField": CUSTOM_FIELD,
    "domain": read_only(STRING),
    "sparse": BOOLEAN,
    "status": read_only(STRING),
}

TRANSACTION: dict[str, Field] = {
    **COMMON,
    "DocNumber": string(21),
    "TxnDate": DATE,
    "DepartmentRef": ref("Department"),
    "CurrencyRef": CURRENCY_REF,
    "ExchangeRate": DECIMAL,
    "PrivateNote": string(4000),
    "TxnStatus": STRING,
    "LinkedTxn": LINKED_TXN,
    "Line": many(LINE),
    "TxnTaxDetail": TXN_TAX_DETAIL,
    "TxnSource": STRING,
    "TransactionLocationType": STRING,
    "ProjectRef": ref("Customer"),
}

SALES: dict[str, Field] = {
    **TRANSACTION,
    "CustomerRef": ref("Customer"),
    "CustomerMemo": Field(Kind.MEMO, max_length=1000),
    "BillAddr": ADDRESS,
    "ShipAddr": ADDRESS,
    "FreeFormAddress": BOOLEAN,
    "ShipFromAddr": ADDRESS,
    "ClassRef": ref("Class"),
    "SalesTermRef": ref("Term"),
    "DueDate": DATE,
    "SalesRepRef": ref(),
    "PONumber": string(15),
    "FOB": string(15),
    "ShipMethodRef": ref(),
    "ShipDate": DATE,
    "TrackingNum": string(31),
    "GlobalTaxCalculation": GLOBAL_TAX_CALCULATION,
    "TotalAmt": read_only(DECIMAL),
    "HomeTotalAmt": read_only(DECIMAL),
    "ApplyTaxAfterDiscount": BOOLEAN,
    "PrintStatus": PRINT_STATUS,
    "EmailStatus": EMAIL_STATUS,
    "BillEmail": EMAIL,
    "BillEmailCc": EMAIL,
    "BillEmailBcc": EMAIL,
    "ARAccountRef": ref("Account"),
    "Balance": read_only(DECIMAL),
    "HomeBalance": read_only(DECIMAL),
    "DepositToAccountRef": ref("Account"),
    "DeliveryInfo": read_only(obj(DeliveryType=STRING, DeliveryTime=DATETIME)),
    "AutoDocNumber": BOOLEAN,
}

NAME_BASE: dict[str, Field] = {
    **COMMON,
    "Title": name_string(16),
    "GivenName": name_string(100),
    "MiddleName": name_string(100),
    "FamilyName": name_string(100),
    "Suffix": name_string(16),
    "FullyQualifiedName": read_only(STRING),
    "CompanyName": string(100),
    "DisplayName": name_string(500),
    "PrintOnCheckName": string(110),
    "Active": BOOLEAN,
    "PrimaryPhone": PHONE,
    "AlternatePhone": PHONE,
    "Mobile": PHONE,
    "Fax": PHONE,
    "PrimaryEmailAddr": EMAIL,
    "WebAddr": WEBSITE,
    "DefaultTaxCodeRef": ref(),
    "V4IDPseudonym": read_only(STRING),
}

ENTITY_FIELDS: dict[str, dict[str, Field]] = {
    "Customer": {
        **NAME_BASE,
        "Taxable": BOOLEAN,
        "BillAddr": ADDRESS,
        "ShipAddr": ADDRESS,
        "ContactName": STRING,
        "Notes": string(2000),
        "Job": BOOLEAN,
        "BillWithParent": BOOLEAN,
        "ParentRef": ref("Customer"),
        "Level": read_only(INTEGER),
        "CustomerTypeRef": ref(),
        "SalesTermRef": ref("Term"),
        "PaymentMethodRef": ref("PaymentMethod"),
        "Balance": DECIMAL,
        "OpenBalanceDate": DATE,
        "BalanceWithJobs": read_only(DECIMAL),
        "CurrencyRef": CURRENCY_REF,
        "PreferredDeliveryMethod": choice("Print", "Email", "None"),
        "ResaleNum": string(16),
        "ARAccountRef": ref("Account"),
        "PrimaryTaxIdentifier": string(20),
        "SecondaryTaxIdentifier": string(20),
        "TaxExemptionReasonId": STRING,
        "BusinessNumber": string(10),
        "IsProject": read_only(BOOLEAN),
        "Source": STRING,
    },
    "Vendor": {
        **NAME_BASE,
        "ContactName": STRING,
        "Notes": string(2000),
        "BillAddr": ADDRESS,
        "ShipAddr": ADDRESS,
        "TaxCountry": STRING,
        "TaxIdentifier": string(20),
        "BusinessNumber": string(10),
        "TermRef": ref("Term"),
        "Balance": DECIMAL,
        "BillRate": DECIMAL,
        "CostRate": DECIMAL,
        "OpenBalanceDate": DATE,
        "AcctNum": string(100),
        "Vendor1099": BOOLEAN,
        "T4AEligible": BOOLEAN,
        "T5018Eligible": BOOLEAN,
        "CurrencyRef": CURRENCY_REF,
        "APAccountRef": ref("Account"),
        "Source": STRING,
    },
    "Employee": {
        **NAME_BASE,
        "EmployeeType": STRING,
        "EmployeeNumber": string(100),
        "SSN": string(100),
        "PrimaryAddr": ADDRESS,
        "BillableTime": BOOLEAN,
        "BillRate": DECIMAL,
        "CostRate": DECIMAL,
        "BirthDate": DATE,
        "Gender": choice("Male", "Female"),
        "HiredDate": DATE,
        "ReleasedDate": DATE,
        "Notes": string(2000),
    },
    "Item": {
        **COMMON,
        "Name": name_string(100),
        "Sku": string(100),
        "Description": string(4000),
        "Active": BOOLEAN,
        "SubItem": BOOLEAN,
        "ParentRef": ref("Item"),
        "Level": read_only(INTEGER),
        "FullyQualifiedName": read_only(STRING),
        "Taxable": BOOLEAN,
        "SalesTaxIncluded": BOOLEAN,
        "UnitPrice": DECIMAL,
        "Type": choice(
            "Assembly",
            "Category",
            "Fixed Asset",
            "Group",
            "Inventory",
            "NonInventory",
            "Other Charge",
            "Payment",
            "Service",
            "Subtotal",
            "Discount",
            "Tax",
            "Tax Group",
            "Bundle",
        ),
        "IncomeAccountRef": ref("Account"),
        "PurchaseDesc": string(1000),
        "PurchaseTaxIncluded": BOOLEAN,
        "PurchaseCost": DECIMAL,
        "ExpenseAccountRef": ref("Account"),
        "AssetAccountRef": ref("Account"),
        "PrefVendorRef": ref("Vendor"),
        "TrackQtyOnHand": BOOLEAN,
        "QtyOnHand": DECIMAL,
        "ReorderPoint": DECIMAL,
        "InvStartDate": DATE,
        "SalesTaxCodeRef": TAX_CODE_REF,
        "PurchaseTaxCodeRef": TAX_CODE_REF,
        "ClassRef": ref("Class"),
    },
    "Account": {
        **COMMON,
        "Name": name_string(100),
        "SubAccount": BOOLEAN,
        "ParentRef": ref("Account"),
        "Description": string(100),
        "FullyQualifiedName": read_only(STRING),
        "Active": BOOLEAN,
        "Classification": read_only(choice("Asset", "Equity", "Expense", "Liability", "Revenue")),
        "AccountType": choice(
            "Bank",
            "Accounts Receivable",
            "Other Current Asset",
            "Fixed Asset",
            "Other Asset",
            "Accounts Payable",
            "Credit Card",
            "Other Current Liability",
            "Long Term Liability",
            "Equity",
            "Income",
            "Cost of Goods Sold",
            "Expense",
            "Other Income",
            "Other Expense",
            "Non-Posting",
        ),
        "AccountSubType": STRING,
        "AcctNum": string(20),
        "CurrentBalance": read_only(DECIMAL),
        "CurrentBalanceWithSubAccounts": read_only(DECIMAL),
        "CurrencyRef": CURRENCY_REF,
        "TaxCodeRef": TAX_CODE_REF,
    },
    "Term": {
        **COMMON,
        "Name": name_string(31),
        "Active": BOOLEAN,
        "Type": read_only(STRING),
        "DiscountPercent": DECIMAL,
        "DueDays": INTEGER,
        "DiscountDays": INTEGER,
        "DayOfMonthDue": INTEGER,
        "DueNextMonthDays": INTEGER,
        "DiscountDayOfMonth": INTEGER,
    },
    "PaymentMethod": {
        **COMMON,
        "Name": name_string(31),
        "Active": BOOLEAN,
        "Type": choice("CREDIT_CARD", "NON_CREDIT_CARD"),
    },
    "CompanyCurrency": {**COMMON, "Code": string(3), "Name": read_only(STRING), "Active": BOOLEAN},
    "ExchangeRate": {
        **COMMON,
        "SourceCurrencyCode": string(3),
        "TargetCurrencyCode": string(3),
        "Rate": DECIMAL,
        "AsOfDate": DATE,
    },
    "TaxAgency": {
        **COMMON,
        "DisplayName": read_only(STRING),
        "TaxRegistrationNumber": read_only(STRING),
        "TaxTrackedOnSales": read_only(BOOLEAN),
        "TaxTrackedOnPurchases": read_only(BOOLEAN),
    },
    "TaxRate": {
        **COMMON,
        "Name": read_only(STRING),
        "Description": read_only(STRING),
        "Active": read_only(BOOLEAN),
        "RateValue": read_only(DECIMAL),
        "AgencyRef": read_only(ref()),
        "SpecialTaxType": read_only(
            choice("NONE", "ZERO_RATE", "FOREIGN_TAX", "REVERSE_CHARGE", "ADJUSTMENT_RATE")
        ),
        "DisplayType": read_only(STRING),
        "EffectiveTaxRate": read_only(many(obj(RateValue=DECIMAL, EffectiveDate=DATETIME, EndDate=DATETIME))),
    },
    "TaxCode": {
        **COMMON,
        "Name": read_only(STRING),
        "Description": read_only(STRING),
        "Active": read_only(BOOLEAN),
        "Hidden": read_only(BOOLEAN),
        "Taxable": read_only(BOOLEAN),
        "TaxGroup": read_only(BOOLEAN),
        "SalesTaxRateList": read_only(ANY),
        "PurchaseTaxRateList": read_only(ANY),
        "TaxCodeConfigType": read_only(STRING),
    },
    "Invoice": {
        **SALES,
        "Deposit": DECIMAL,
        "AllowIPNPayment": BOOLEAN,
        "AllowOnlinePayment": BOOLEAN,
        "AllowOnlineCreditCardPayment": BOOLEAN,
        "AllowOnlineACHPayment": BOOLEAN,
        "InvoiceLink": read_only(STRING),
    },
    "Estimate": {
        **SALES,
        "TxnStatus": choice("Pending", "Accepted", "Closed", "Rejected"),
        "ExpirationDate": DATE,
        "AcceptedBy": STRING,
        "AcceptedDate": DATE,
    },
    "Payment": {
        **TRANSACTION,
        "CustomerRef": ref("Customer"),
        "ARAccountRef": ref("Account"),
        "DepositToAccountRef": ref("Account"),
        "PaymentMethodRef": ref("PaymentMethod"),
        "PaymentRefNum": string(21),
        "TotalAmt": DECIMAL,
        "UnappliedAmt": read_only(DECIMAL),
        "ProcessPayment": BOOLEAN,
        "CreditCardPayment": ANY,
    },
    "Purchase": {
        **TRANSACTION,
        "AccountRef": ref("Account"),
        "PaymentMethodRef": ref("PaymentMethod"),
        "PaymentRefNum": string(21),
        # GUESS: the XSD also lists Expense and Other; the API reference accepts only these three.
        "PaymentType": choice("Cash", "Check", "CreditCard"),
        "EntityRef": ref(),
        "Credit": BOOLEAN,
        "RemitToAddr": ADDRESS,
        "TotalAmt": read_only(DECIMAL),
        "PrintStatus": PRINT_STATUS,
        "GlobalTaxCalculation": GLOBAL_TAX_CALCULATION,
    },
    "Bill": {
        **TRANSACTION,
        "VendorRef": ref("Vendor"),
        "APAccountRef": ref("Account"),
        "TotalAmt": read_only(DECIMAL),
        "GlobalTaxCalculation": GLOBAL_TAX_CALCULATION,
        "SalesTermRef": ref("Term"),
        "DueDate": DATE,
        "VendorAddr": ADDRESS,
        "Balance": read_only(DECIMAL),
        "HomeBalance": read_only(DECIMAL),
    },
    "PurchaseOrder": {
        **TRANSACTION,
        "VendorRef": ref("Vendor"),
        "APAccountRef": ref("Account"),
        "TotalAmt": read_only(DECIMAL),
        "Memo": string(4000),
        "GlobalTaxCalculation": GLOBAL_TAX_CALCULATION,
        "ClassRef": ref("Class"),
        "SalesTermRef": ref("Term"),
        "DueDate": DATE,
        "ExpectedDate": DATE,
        "VendorAddr": ADDRESS,
        "ShipAddr": ADDRESS,
        "ShipMethodRef": ref(),
        "POEmail": EMAIL,
        "PrintStatus": PRINT_STATUS,
        "EmailStatus": EMAIL_STATUS,
        "ManuallyClosed": BOOLEAN,
        "POStatus": choice("Open", "Closed"),
    },
    "TimeActivity": {
        **COMMON,
        "TimeZone": STRING,
        "TxnDate": DATE,
        # GUESS: the XSD also has `Other` (OtherNameRef); the reference documents Employee and Vendor only.
        "NameOf": choice("Employee", "Vendor"),
        "EmployeeRef": ref("Employee"),
        "VendorRef": ref("Vendor"),
        "CustomerRef": ref("Customer"),
        "DepartmentRef": ref("Department"),
        "ItemRef": ref("Item"),
        "ClassRef": ref("Class"),
        "PayrollItemRef": ref(),
        "ProjectRef": ref("Customer"),
        "BillableStatus": BILLABLE_STATUS,
        "Taxable": BOOLEAN,
        "HourlyRate": DECIMAL,
        "CostRate": DECIMAL,
        "Hours": INTEGER,
        "Minutes": INTEGER,
        "BreakHours": INTEGER,
        "BreakMinutes": INTEGER,
        "StartTime": DATETIME,
        "EndTime": DATETIME,
        "Description": string(4000),
    },
    "CompanyInfo": {
        **COMMON,
        "CompanyName": string(1024),
        "LegalName": string(1024),
        "CompanyAddr": ADDRESS,
        "CustomerCommunicationAddr": ADDRESS,
        "LegalAddr": ADDRESS,
        "CustomerCommunicationEmailAddr": EMAIL,
        "PrimaryPhone": PHONE,
        "CompanyStartDate": read_only(DATE),
        "FiscalYearStartMonth": read_only(STRING),
        "Country": read_only(STRING),
        "Email": EMAIL,
        "WebAddr": WEBSITE,
        "SupportedLanguages": read_only(STRING),
        "DefaultTimeZone": read_only(STRING),
        "NameValue": read_only(many(obj(Name=STRING, Value=STRING))),
    },
    "Preferences": {
        **COMMON,
        "AccountingInfoPrefs": ANY,
        "ProductAndServicesPrefs": ANY,
        "SalesFormsPrefs": ANY,
        "EmailMessagesPrefs": ANY,
        "VendorAndPurchasesPrefs": ANY,
        "TimeTrackingPrefs": ANY,
        "TaxPrefs": ANY,
        "CurrencyPrefs": ANY,
        "ReportPrefs": ANY,
        "OtherPrefs": ANY,
    },
}

NAME_LISTS = frozenset(
    {
        "Customer",
        "Vendor",
        "Employee",
        "Item",
        "Account",
        "Term",
        "PaymentMethod",
        "CompanyCurrency",
        "TaxCode",
        "TaxRate",
        "TaxAgency",
    }
)
TRANSACTIONS = frozenset(
    {"Invoice", "Estimate", "Payment", "Purchase", "Bill", "PurchaseOrder", "TimeActivity"}
)
READ_ONLY_ENTITIES = frozenset({"TaxCode", "TaxRate", "TaxAgency"})
SINGLETONS = frozenset({"CompanyInfo", "Preferences"})
# Queries without an Active predicate return only active rows for these (reference §4, ✱).
ACTIVE_FILTERED = frozenset({"Customer", "Vendor", "Employee", "Item", "Account"})
# CDC refuses these (reference §3.8).
CDC_EXCLUDED = frozenset({"TimeActivity", "TaxCode", "TaxRate", "TaxAgency", "JournalCode"})

# The lower-case URL segment of each entity.
PATH_SEGMENTS = {name.lower(): name for name in ENTITY_FIELDS}

_META = ("Id", "MetaData.CreateTime", "MetaData.LastUpdatedTime")


def _filterable(*names: str) -> frozenset[str]:
    return frozenset((*_META, *names))


# Filterable (and sortable) properties per entity, from the API reference's traits and observed
# behaviour (reference §4). GUESS where the reference is silent: the sortable set equals the filterable
# set, and TotalAmt is filterable on sales forms and expenses (Intuit's own batch sample filters on it).
_NAME_PARTS = ("DisplayName", "GivenName", "MiddleName", "FamilyName", "PrimaryEmailAddr", "Active")
FILTERABLE: dict[str, frozenset[str]] = {
    "Customer": _filterable(
        *_NAME_PARTS, "CompanyName", "Balance", "PrintOnCheckName", "FullyQualifiedName", "ParentRef", "Job"
    ),
    "Vendor": _filterable(*_NAME_PARTS, "CompanyName", "Balance", "PrintOnCheckName"),
    "Employee": _filterable(*_NAME_PARTS, "PrintOnCheckName", "EmployeeNumber"),
    "Item": _filterable("Name", "Active", "Type", "Sku", "FullyQualifiedName", "ParentRef"),
    "Account": _filterable(
        "Name",
        "SubAccount",
        "ParentRef",
        "Active",
        "Classification",
        "AccountType",
        "AccountSubType",
        "AcctNum",
        "CurrentBalance",
        "CurrentBalanceWithSubAccounts",
        "CurrencyRef",
        "FullyQualifiedName",
    ),
    "Term": _filterable("Name", "Active"),
    "PaymentMethod": _filterable("Name", "Active", "Type"),
    "CompanyCurrency": _filterable("Code", "Name", "Active"),
    "ExchangeRate": _filterable("SourceCurrencyCode", "TargetCurrencyCode", "AsOfDate"),
    "TaxAgency": _filterable("DisplayName"),
    "TaxRate": _filterable("Name", "Active", "AgencyRef"),
    "TaxCode": _filterable("Name", "Active", "Hidden", "Taxable"),
    "Invoice": _filterable(
        "CustomerRef",
        "DocNumber",
        "ProjectRef",
        "TxnDate",
        "SalesTermRef",
        "DueDate",
        "Balance",
        "TotalAmt",
        "CurrencyRef",
        "EmailStatus",
        "PrintStatus",
    ),
    "Estimate": _filterable(
        "CustomerRef",
        "ProjectRef",
        "TxnDate",
        "DueDate",
        "DocNumber",
        "ExpirationDate",
        "AcceptedDate",
        "TotalAmt",
    )
    | {"TxnStatus"},
    "Payment": _filterable("CustomerRef", "TxnDate", "TotalAmt", "PaymentRefNum", "DocNumber"),
    "Purchase": _filterable("TxnDate", "DocNumber", "PaymentType", "AccountRef", "TotalAmt", "Credit"),
    "Bill": _filterable("VendorRef", "TxnDate", "DocNumber", "DueDate", "Balance", "TotalAmt"),
    "PurchaseOrder": _filterable("VendorRef", "TxnDate", "DocNumber", "POStatus", "TotalAmt"),
    "TimeActivity": _filterable(
        "TxnDate", "CustomerRef", "EmployeeRef", "VendorRef", "NameOf", "BillableStatus", "ItemRef"
    ),
    "CompanyInfo": _filterable("CompanyName"),
    "Preferences": _filterable(),
}
