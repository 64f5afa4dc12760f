"""QuickBooks Online wire models: the exact PascalCase field names of Intuit's XSD, Decimal money.

Every model keeps fields it does not declare (``extra="allow"``), so a record read from QBO and
written back loses nothing QBO added. ``to_wire()`` drops ``None`` fields because QBO omits absent
fields rather than sending ``null``; ``paymo_qb_mcp.net.jsonwire.dumps`` then writes Decimals as JSON
numbers and dates as ``YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

__all__ = [
    "ADDRESS_LINE_MAX_LENGTH",
    "COMPANY_NAME_MAX_LENGTH",
    "CUSTOMER_MEMO_MAX_LENGTH",
    "DESCRIPTION_MAX_LENGTH",
    "ENTITY_MODELS",
    "NOTES_MAX_LENGTH",
    "PRIVATE_NOTE_MAX_LENGTH",
    "PURCHASE_ORDER_MEMO_MAX_LENGTH",
    "Account",
    "AccountBasedExpenseLineDetail",
    "AccountingInfoPrefs",
    "Bill",
    "CompanyInfo",
    "CurrencyPrefs",
    "CustomField",
    "Customer",
    "DescriptionLineDetail",
    "DiscountLineDetail",
    "EmailAddress",
    "Employee",
    "Estimate",
    "ExchangeRate",
    "GroupLineDetail",
    "Invoice",
    "Item",
    "ItemBasedExpenseLineDetail",
    "Line",
    "LinkedTxn",
    "MarkupInfo",
    "MemoRef",
    "MetaData",
    "NameValue",
    "OtherPrefs",
    "Payment",
    "PaymentMethod",
    "PhysicalAddress",
    "Preferences",
    "Purchase",
    "PurchaseOrder",
    "QboEntity",
    "QboModel",
    "Ref",
    "SalesFormsPrefs",
    "SalesItemLineDetail",
    "SubTotalLineDetail",
    "TaxCode",
    "TaxLineDetail",
    "TaxPrefs",
    "TaxRate",
    "TaxRateDetail",
    "TaxRateList",
    "TelephoneNumber",
    "Term",
    "TimeActivity",
    "TimeTrackingPrefs",
    "TxnTaxDetail",
    "Vendor",
    "VendorAndPurchasesPrefs",
    "VoidStyle",
    "WebSiteAddress",
    "detail_key_for",
    "is_voided",
]

# The longest text QBO keeps in these fields; a longer one is refused (fault 2050), so writers cut to them.
PRIVATE_NOTE_MAX_LENGTH: Final = 4000  # a transaction's PrivateNote
DESCRIPTION_MAX_LENGTH: Final = 4000  # Line.Description, TimeActivity.Description
CUSTOMER_MEMO_MAX_LENGTH: Final = 1000  # CustomerMemo of invoices and estimates
PURCHASE_ORDER_MEMO_MAX_LENGTH: Final = 4000  # PurchaseOrder.Memo
NOTES_MAX_LENGTH: Final = 2000  # Customer.Notes
COMPANY_NAME_MAX_LENGTH: Final = 100  # Customer.CompanyName
ADDRESS_LINE_MAX_LENGTH: Final = 500  # PhysicalAddress.Line1..Line5


class QboModel(BaseModel):
    """Base of every wire object: unknown fields round-trip, Ids sent as numbers become strings."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready body QBO expects: absent fields omitted, Decimals kept exact."""
        return self.model_dump(mode="python", exclude_none=True, by_alias=True)


class Ref(QboModel):
    """A ReferenceType: ``value`` is the Id (or an ISO code for currencies, TAX/NON for US tax codes)."""

    value: str
    name: str | None = None
    type: str | None = None


class MemoRef(QboModel):
    value: str


class NameValue(QboModel):
    Name: str | None = None
    Value: str | None = None


class MetaData(QboModel):
    """ModificationMetaData: read-only, filled by QBO."""

    CreateTime: AwareDatetime | None = None
    LastUpdatedTime: AwareDatetime | None = None
    CreatedByRef: Ref | None = None
    LastModifiedByRef: Ref | None = None


class EmailAddress(QboModel):
    Address: str | None = None


class TelephoneNumber(QboModel):
    FreeFormNumber: str | None = None


class WebSiteAddress(QboModel):
    URI: str | None = None


class PhysicalAddress(QboModel):
    Id: str | None = None
    Line1: str | None = None
    Line2: str | None = None
    Line3: str | None = None
    Line4: str | None = None
    Line5: str | None = None
    City: str | None = None
    CountrySubDivisionCode: str | None = None
    PostalCode: str | None = None
    Country: str | None = None
    Lat: str | None = None
    Long: str | None = None


class CustomField(QboModel):
    DefinitionId: str | None = None
    Name: str | None = None
    Type: str | None = None
    StringValue: str | None = None
    BooleanValue: bool | None = None
    DateValue: dt.date | None = None
    NumberValue: Decimal | None = None


class LinkedTxn(QboModel):
    TxnId: str
    TxnType: str
    TxnLineId: str | None = None


class MarkupInfo(QboModel):
    PercentBased: bool | None = None
    Value: Decimal | None = None
    Percent: Decimal | None = None
    MarkUpIncomeAccountRef: Ref | None = None


# --- line details ------------------------------------------------------------------------------


class SalesItemLineDetail(QboModel):
    ItemRef: Ref | None = None
    ClassRef: Ref | None = None
    UnitPrice: Decimal | None = None
    Qty: Decimal | None = None
    ItemAccountRef: Ref | None = None
    TaxCodeRef: Ref | None = None
    ServiceDate: dt.date | None = None
    TaxInclusiveAmt: Decimal | None = None
    DiscountRate: Decimal | None = None
    DiscountAmt: Decimal | None = None
    MarkupInfo: _MarkupInfo | None = None


class DescriptionLineDetail(QboModel):
    """The detail of a ``DescriptionOnly`` line (QBO names the type and the key differently)."""

    ServiceDate: dt.date | None = None
    TaxCodeRef: Ref | None = None


class SubTotalLineDetail(QboModel):
    ItemRef: Ref | None = None
    ServiceDate: dt.date | None = None


class DiscountLineDetail(QboModel):
    DiscountRef: Ref | None = None
    PercentBased: bool | None = None
    DiscountPercent: Decimal | None = None
    DiscountAccountRef: Ref | None = None
    ServiceDate: dt.date | None = None
    ClassRef: Ref | None = None
    TaxCodeRef: Ref | None = None


class GroupLineDetail(QboModel):
    GroupItemRef: Ref | None = None
    Quantity: Decimal | None = None
    ServiceDate: dt.date | None = None
    Line: list[_Line] | None = None


class AccountBasedExpenseLineDetail(QboModel):
    AccountRef: Ref | None = None
    CustomerRef: Ref | None = None
    ClassRef: Ref | None = None
    BillableStatus: str | None = None
    MarkupInfo: _MarkupInfo | None = None
    TaxAmount: Decimal | None = None
    TaxCodeRef: Ref | None = None
    TaxInclusiveAmt: Decimal | None = None


class ItemBasedExpenseLineDetail(QboModel):
    ItemRef: Ref | None = None
    ClassRef: Ref | None = None
    UnitPrice: Decimal | None = None
    Qty: Decimal | None = None
    CustomerRef: Ref | None = None
    BillableStatus: str | None = None
    TaxCodeRef: Ref | None = None
    TaxInclusiveAmt: Decimal | None = None
    MarkupInfo: _MarkupInfo | None = None


class TaxLineDetail(QboModel):
    TaxRateRef: Ref | None = None
    PercentBased: bool | None = None
    TaxPercent: Decimal | None = None
    NetAmountTaxable: Decimal | None = None
    TaxInclusiveAmount: Decimal | None = None
    OverrideDeltaAmount: Decimal | None = None


# Every DetailType's detail object sits under a key of the same name, except DescriptionOnly.
_DETAIL_TYPES = (
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
)
_DETAIL_KEYS = frozenset("DescriptionLineDetail" if t == "DescriptionOnly" else t for t in _DETAIL_TYPES)


def detail_key_for(detail_type: str) -> str:
    """The JSON key that carries the detail object of a line with this ``DetailType``."""
    return "DescriptionLineDetail" if detail_type == "DescriptionOnly" else detail_type


class Line(QboModel):
    """A transaction line. The detail object present must be the one ``DetailType`` names.

    Payment lines carry no ``DetailType`` (just ``Amount`` and ``LinkedTxn``); QBO's JAXB ``LineEx``
    blob on payment lines is kept as an extra field.
    """

    Id: str | None = None
    LineNum: int | None = None
    Description: str | None = None
    Amount: Decimal | None = None
    DetailType: str | None = None
    LinkedTxn: list[_LinkedTxn] | None = None
    SalesItemLineDetail: _SalesItemLineDetail | None = None
    DescriptionLineDetail: _DescriptionLineDetail | None = None
    SubTotalLineDetail: _SubTotalLineDetail | None = None
    DiscountLineDetail: _DiscountLineDetail | None = None
    GroupLineDetail: _GroupLineDetail | None = None
    AccountBasedExpenseLineDetail: _AccountBasedExpenseLineDetail | None = None
    ItemBasedExpenseLineDetail: _ItemBasedExpenseLineDetail | None = None
    TaxLineDetail: _TaxLineDetail | None = None
    ProjectRef: Ref | None = None

    @model_validator(mode="after")
    def _detail_matches_type(self) -> Line:
        present = [
            name
            for name in type(self).model_fields
            if name.endswith("Detail") and getattr(self, name) is not None
        ]
        # A detail under an undeclared key (e.g. "DescriptionOnly") would otherwise pass as an extra field.
        present += [key for key in (self.model_extra or {}) if key.endswith("Detail") or key in _DETAIL_TYPES]
        for key in present:
            if key not in _DETAIL_KEYS:
                # e.g. python-quickbooks' "SubtotalLineDetail": QBO would reject or silently drop it.
                known = ", ".join(sorted(_DETAIL_KEYS))
                raise ValueError(f"{key} is not a QBO line detail key (known: {known})")
        if self.DetailType is None:
            if present:
                raise ValueError(f"a line with {present[0]} needs DetailType")
            return self
        expected = detail_key_for(self.DetailType)
        for key in present:
            if key != expected:
                raise ValueError(
                    f"DetailType {self.DetailType} carries its detail under {expected}, not {key}"
                )
        return self

    @classmethod
    def sales_item(
        cls,
        *,
        amount: Decimal,
        item: Ref,
        qty: Decimal | None = None,
        unit_price: Decimal | None = None,
        tax_code: Ref | None = None,
        description: str | None = None,
        service_date: dt.date | None = None,
    ) -> Line:
        return cls(
            DetailType="SalesItemLineDetail",
            Amount=amount,
            Description=description,
            SalesItemLineDetail=SalesItemLineDetail(
                ItemRef=item, Qty=qty, UnitPrice=unit_price, TaxCodeRef=tax_code, ServiceDate=service_date
            ),
        )

    @classmethod
    def description_only(cls, text: str, *, service_date: dt.date | None = None) -> Line:
        return cls(
            DetailType="DescriptionOnly",
            Description=text,
            DescriptionLineDetail=DescriptionLineDetail(ServiceDate=service_date),
        )

    @classmethod
    def discount(
        cls, *, amount: Decimal | None = None, percent: Decimal | None = None, account: Ref | None = None
    ) -> Line:
        """A fixed-amount discount (``amount``) or a percentage one (``percent``), not both."""
        if (amount is None) == (percent is None):
            raise ValueError("a discount line takes either amount or percent")
        return cls(
            DetailType="DiscountLineDetail",
            Amount=amount,
            DiscountLineDetail=DiscountLineDetail(
                PercentBased=percent is not None, DiscountPercent=percent, DiscountAccountRef=account
            ),
        )

    @classmethod
    def account_expense(
        cls,
        *,
        amount: Decimal,
        account: Ref,
        description: str | None = None,
        customer: Ref | None = None,
        billable_status: str | None = None,
        tax_code: Ref | None = None,
    ) -> Line:
        return cls(
            DetailType="AccountBasedExpenseLineDetail",
            Amount=amount,
            Description=description,
            AccountBasedExpenseLineDetail=AccountBasedExpenseLineDetail(
                AccountRef=account, CustomerRef=customer, BillableStatus=billable_status, TaxCodeRef=tax_code
            ),
        )


class TxnTaxDetail(QboModel):
    TxnTaxCodeRef: Ref | None = None
    TotalTax: Decimal | None = None
    TaxLine: list[_Line] | None = None


class TaxRateDetail(QboModel):
    TaxRateRef: Ref | None = None
    TaxTypeApplicable: str | None = None
    TaxOrder: int | None = None


class TaxRateList(QboModel):
    TaxRateDetail: list[_TaxRateDetail] | None = None


# --- entities ----------------------------------------------------------------------------------

VoidStyle = Literal["operation_void", "update_include_void"]


class QboEntity(QboModel):
    """Fields every entity has. ``entity_name`` is the envelope key; its lower case is the URL path."""

    entity_name: ClassVar[str] = ""
    # Only transactions support operation=delete; name lists are deactivated instead.
    is_transaction: ClassVar[bool] = False
    void_style: ClassVar[VoidStyle | None] = None

    Id: str | None = None
    SyncToken: str | None = None
    MetaData: _MetaData | None = None
    CustomField: list[_CustomField] | None = None
    domain: str | None = None
    sparse: bool | None = None
    status: str | None = None

    @classmethod
    def path(cls) -> str:
        return cls.entity_name.lower()


class _NameBase(QboEntity):
    """Customer, Vendor and Employee share one DisplayName namespace and these fields."""

    DisplayName: str | None = None
    Title: str | None = None
    GivenName: str | None = None
    MiddleName: str | None = None
    FamilyName: str | None = None
    Suffix: str | None = None
    CompanyName: str | None = None
    PrintOnCheckName: str | None = None
    Active: bool | None = None
    PrimaryEmailAddr: EmailAddress | None = None
    PrimaryPhone: TelephoneNumber | None = None
    Mobile: TelephoneNumber | None = None
    Fax: TelephoneNumber | None = None
    AlternatePhone: TelephoneNumber | None = None
    WebAddr: WebSiteAddress | None = None
    Notes: str | None = None


class Customer(_NameBase):
    entity_name = "Customer"

    FullyQualifiedName: str | None = None
    BillAddr: PhysicalAddress | None = None
    ShipAddr: PhysicalAddress | None = None
    SalesTermRef: Ref | None = None
    PaymentMethodRef: Ref | None = None
    CurrencyRef: Ref | None = None
    Taxable: bool | None = None
    DefaultTaxCodeRef: Ref | None = None
    TaxExemptionReasonId: str | None = None
    ParentRef: Ref | None = None
    Job: bool | None = None
    BillWithParent: bool | None = None
    Level: int | None = None
    Balance: Decimal | None = None
    BalanceWithJobs: Decimal | None = None
    OpenBalanceDate: dt.date | None = None
    PreferredDeliveryMethod: str | None = None
    ResaleNum: str | None = None
    IsProject: bool | None = None


class Vendor(_NameBase):
    entity_name = "Vendor"

    BillAddr: PhysicalAddress | None = None
    TermRef: Ref | None = None
    CurrencyRef: Ref | None = None
    Vendor1099: bool | None = None
    AcctNum: str | None = None
    APAccountRef: Ref | None = None
    Balance: Decimal | None = None
    BillRate: Decimal | None = None
    CostRate: Decimal | None = None


class Employee(_NameBase):
    entity_name = "Employee"

    PrimaryAddr: PhysicalAddress | None = None
    EmployeeNumber: str | None = None
    BillableTime: bool | None = None
    BillRate: Decimal | None = None
    CostRate: Decimal | None = None
    HiredDate: dt.date | None = None
    ReleasedDate: dt.date | None = None


class Item(QboEntity):
    entity_name = "Item"

    Name: str | None = None
    Sku: str | None = None
    Description: str | None = None
    Active: bool | None = None
    SubItem: bool | None = None
    ParentRef: Ref | None = None
    Level: int | None = None
    FullyQualifiedName: str | None = None
    Type: str | None = None
    Taxable: bool | None = None
    SalesTaxIncluded: bool | None = None
    UnitPrice: Decimal | None = None
    IncomeAccountRef: Ref | None = None
    ExpenseAccountRef: Ref | None = None
    AssetAccountRef: Ref | None = None
    PurchaseDesc: str | None = None
    PurchaseCost: Decimal | None = None
    SalesTaxCodeRef: Ref | None = None
    PurchaseTaxCodeRef: Ref | None = None
    TrackQtyOnHand: bool | None = None
    QtyOnHand: Decimal | None = None
    InvStartDate: dt.date | None = None


class Account(QboEntity):
    entity_name = "Account"

    Name: str | None = None
    AcctNum: str | None = None
    Description: str | None = None
    Active: bool | None = None
    SubAccount: bool | None = None
    ParentRef: Ref | None = None
    FullyQualifiedName: str | None = None
    Classification: str | None = None
    AccountType: str | None = None
    AccountSubType: str | None = None
    CurrentBalance: Decimal | None = None
    CurrentBalanceWithSubAccounts: Decimal | None = None
    CurrencyRef: Ref | None = None
    TaxCodeRef: Ref | None = None


class Term(QboEntity):
    entity_name = "Term"

    Name: str | None = None
    Active: bool | None = None
    Type: str | None = None
    DueDays: int | None = None
    DiscountDays: int | None = None
    DiscountPercent: Decimal | None = None
    DayOfMonthDue: int | None = None
    DueNextMonthDays: int | None = None
    DiscountDayOfMonth: int | None = None


class TaxCode(QboEntity):
    entity_name = "TaxCode"

    Name: str | None = None
    Description: str | None = None
    Active: bool | None = None
    Hidden: bool | None = None
    Taxable: bool | None = None
    TaxGroup: bool | None = None
    SalesTaxRateList: _TaxRateList | None = None
    PurchaseTaxRateList: _TaxRateList | None = None
    TaxCodeConfigType: str | None = None


class TaxRate(QboEntity):
    entity_name = "TaxRate"

    Name: str | None = None
    Description: str | None = None
    Active: bool | None = None
    RateValue: Decimal | None = None
    AgencyRef: Ref | None = None
    SpecialTaxType: str | None = None
    DisplayType: str | None = None


class PaymentMethod(QboEntity):
    entity_name = "PaymentMethod"

    Name: str | None = None
    Active: bool | None = None
    Type: str | None = None


class ExchangeRate(QboEntity):
    """Home-currency units per one ``SourceCurrencyCode`` unit, as of ``AsOfDate`` (read-only here)."""

    entity_name = "ExchangeRate"

    SourceCurrencyCode: str | None = None
    TargetCurrencyCode: str | None = None
    Rate: Decimal | None = None
    AsOfDate: dt.date | None = None


class CompanyInfo(QboEntity):
    entity_name = "CompanyInfo"

    CompanyName: str | None = None
    LegalName: str | None = None
    CompanyAddr: PhysicalAddress | None = None
    LegalAddr: PhysicalAddress | None = None
    CustomerCommunicationAddr: PhysicalAddress | None = None
    Country: str | None = None
    FiscalYearStartMonth: str | None = None
    CompanyStartDate: dt.date | None = None
    Email: EmailAddress | None = None
    WebAddr: WebSiteAddress | None = None
    PrimaryPhone: TelephoneNumber | None = None
    SupportedLanguages: str | None = None
    DefaultTimeZone: str | None = None
    NameValue: list[_NameValue] | None = None


class AccountingInfoPrefs(QboModel):
    TrackDepartments: bool | None = None
    ClassTrackingPerTxn: bool | None = None
    ClassTrackingPerTxnLine: bool | None = None
    BookCloseDate: dt.date | None = None


class SalesFormsPrefs(QboModel):
    CustomTxnNumbers: bool | None = None
    AllowDiscount: bool | None = None
    AllowShipping: bool | None = None
    AllowServiceDate: bool | None = None
    AllowDeposit: bool | None = None
    DefaultTerms: Ref | None = None
    AutoApplyCredit: bool | None = None
    AutoApplyPayments: bool | None = None
    UsingProgressInvoicing: bool | None = None
    ETransactionEnabledStatus: str | None = None


class TaxPrefs(QboModel):
    UsingSalesTax: bool | None = None
    PartnerTaxEnabled: bool | None = None
    TaxGroupCodeRef: Ref | None = None


class CurrencyPrefs(QboModel):
    MultiCurrencyEnabled: bool | None = None
    HomeCurrency: Ref | None = None


class TimeTrackingPrefs(QboModel):
    UseServices: bool | None = None
    BillCustomers: bool | None = None
    ShowBillRateToAll: bool | None = None
    MarkTimeEntriesBillable: bool | None = None
    TimeTrackingEnabled: bool | None = None


class VendorAndPurchasesPrefs(QboModel):
    BillableExpenseTracking: bool | None = None
    TrackingByCustomer: bool | None = None
    DefaultTerms: Ref | None = None


class OtherPrefs(QboModel):
    NameValue: list[_NameValue] | None = None


class Preferences(QboEntity):
    entity_name = "Preferences"

    AccountingInfoPrefs: _AccountingInfoPrefs | None = None
    SalesFormsPrefs: _SalesFormsPrefs | None = None
    TaxPrefs: _TaxPrefs | None = None
    CurrencyPrefs: _CurrencyPrefs | None = None
    TimeTrackingPrefs: _TimeTrackingPrefs | None = None
    VendorAndPurchasesPrefs: _VendorAndPurchasesPrefs | None = None
    OtherPrefs: _OtherPrefs | None = None


class _Transaction(QboEntity):
    is_transaction = True

    DocNumber: str | None = None
    TxnDate: dt.date | None = None
    CurrencyRef: Ref | None = None
    ExchangeRate: Decimal | None = None
    PrivateNote: str | None = None
    TxnStatus: str | None = None
    LinkedTxn: list[_LinkedTxn] | None = None
    Line: list[_Line] | None = None
    TxnTaxDetail: _TxnTaxDetail | None = None
    DepartmentRef: Ref | None = None
    ProjectRef: Ref | None = None
    TotalAmt: Decimal | None = None


def is_voided(txn: _Transaction) -> bool:
    """QBO keeps a voided transaction, with a zero total and ``Voided`` prepended to its ``PrivateNote``."""
    return (txn.PrivateNote or "").startswith("Voided") and (txn.TotalAmt or 0) == 0


class _SalesTransaction(_Transaction):
    """Invoice and Estimate share the sales-form shape."""

    CustomerRef: Ref | None = None
    CustomerMemo: MemoRef | None = None
    BillAddr: PhysicalAddress | None = None
    ShipAddr: PhysicalAddress | None = None
    ShipFromAddr: PhysicalAddress | None = None
    ClassRef: Ref | None = None
    SalesTermRef: Ref | None = None
    DueDate: dt.date | None = None
    ShipMethodRef: Ref | None = None
    ShipDate: dt.date | None = None
    TrackingNum: str | None = None
    GlobalTaxCalculation: str | None = None
    HomeTotalAmt: Decimal | None = None
    ApplyTaxAfterDiscount: bool | None = None
    PrintStatus: str | None = None
    EmailStatus: str | None = None
    BillEmail: EmailAddress | None = None
    BillEmailCc: EmailAddress | None = None
    BillEmailBcc: EmailAddress | None = None
    Balance: Decimal | None = None
    HomeBalance: Decimal | None = None


class Invoice(_SalesTransaction):
    entity_name = "Invoice"
    void_style = "operation_void"

    Deposit: Decimal | None = None
    DepositToAccountRef: Ref | None = None
    AllowIPNPayment: bool | None = None
    AllowOnlinePayment: bool | None = None
    AllowOnlineCreditCardPayment: bool | None = None
    AllowOnlineACHPayment: bool | None = None
    InvoiceLink: str | None = None


class Estimate(_SalesTransaction):
    entity_name = "Estimate"

    ExpirationDate: dt.date | None = None
    AcceptedBy: str | None = None
    AcceptedDate: dt.date | None = None


class Payment(_Transaction):
    entity_name = "Payment"
    void_style = "update_include_void"

    CustomerRef: Ref | None = None
    UnappliedAmt: Decimal | None = None
    DepositToAccountRef: Ref | None = None
    PaymentMethodRef: Ref | None = None
    PaymentRefNum: str | None = None
    ARAccountRef: Ref | None = None
    ProcessPayment: bool | None = None


class Purchase(_Transaction):
    entity_name = "Purchase"

    PaymentType: str | None = None
    AccountRef: Ref | None = None
    EntityRef: Ref | None = None
    Credit: bool | None = None
    PaymentMethodRef: Ref | None = None
    PaymentRefNum: str | None = None
    GlobalTaxCalculation: str | None = None


class Bill(_Transaction):
    entity_name = "Bill"

    VendorRef: Ref | None = None
    APAccountRef: Ref | None = None
    SalesTermRef: Ref | None = None
    DueDate: dt.date | None = None
    Balance: Decimal | None = None
    HomeBalance: Decimal | None = None
    GlobalTaxCalculation: str | None = None


class PurchaseOrder(_Transaction):
    entity_name = "PurchaseOrder"

    VendorRef: Ref | None = None
    APAccountRef: Ref | None = None
    POStatus: str | None = None
    ManuallyClosed: bool | None = None
    Memo: str | None = None
    DueDate: dt.date | None = None
    ExpectedDate: dt.date | None = None
    ShipAddr: PhysicalAddress | None = None
    VendorAddr: PhysicalAddress | None = None
    POEmail: EmailAddress | None = None
    EmailStatus: str | None = None
    PrintStatus: str | None = None
    GlobalTaxCalculation: str | None = None


class TimeActivity(QboEntity):
    """A transaction for delete purposes, but without lines or amounts; excluded from CDC."""

    entity_name = "TimeActivity"
    is_transaction = True

    TxnDate: dt.date | None = None
    NameOf: str | None = None
    EmployeeRef: Ref | None = None
    VendorRef: Ref | None = None
    CustomerRef: Ref | None = None
    ItemRef: Ref | None = None
    ClassRef: Ref | None = None
    DepartmentRef: Ref | None = None
    ProjectRef: Ref | None = None
    PayrollItemRef: Ref | None = None
    BillableStatus: str | None = None
    Taxable: bool | None = None
    HourlyRate: Decimal | None = None
    CostRate: Decimal | None = None
    Hours: int | None = None
    Minutes: int | None = None
    BreakHours: int | None = None
    BreakMinutes: int | None = None
    StartTime: AwareDatetime | None = None
    EndTime: AwareDatetime | None = None
    Description: str | None = None


ENTITY_MODELS: dict[str, type[QboEntity]] = {
    model.entity_name: model
    for model in (
        Customer,
        Vendor,
        Employee,
        Item,
        Account,
        Term,
        TaxCode,
        TaxRate,
        PaymentMethod,
        ExchangeRate,
        CompanyInfo,
        Preferences,
        Invoice,
        Estimate,
        Payment,
        Purchase,
        Bill,
        PurchaseOrder,
        TimeActivity,
    )
}


# QBO names most nested fields after their type (``Line: list[Line]``). Inside a class body the field
# name would shadow the class, so annotations refer to these aliases; the models are completed below.
_MetaData = MetaData
_CustomField = CustomField
_LinkedTxn = LinkedTxn
_MarkupInfo = MarkupInfo
_SalesItemLineDetail = SalesItemLineDetail
_DescriptionLineDetail = DescriptionLineDetail
_SubTotalLineDetail = SubTotalLineDetail
_DiscountLineDetail = DiscountLineDetail
_GroupLineDetail = GroupLineDetail
_AccountBasedExpenseLineDetail = AccountBasedExpenseLineDetail
_ItemBasedExpenseLineDetail = ItemBasedExpenseLineDetail
_TaxLineDetail = TaxLineDetail
_Line = Line
_TxnTaxDetail = TxnTaxDetail
_TaxRateDetail = TaxRateDetail
_TaxRateList = TaxRateList
_NameValue = NameValue
_AccountingInfoPrefs = AccountingInfoPrefs
_SalesFormsPrefs = SalesFormsPrefs
_TaxPrefs = TaxPrefs
_CurrencyPrefs = CurrencyPrefs
_TimeTrackingPrefs = TimeTrackingPrefs
_VendorAndPurchasesPrefs = VendorAndPurchasesPrefs
_OtherPrefs = OtherPrefs

for _model in [obj for obj in globals().values() if isinstance(obj, type) and issubclass(obj, QboModel)]:
    _model.model_rebuild()
