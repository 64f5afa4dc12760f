"""The wire models against Intuit's XSD: every declared field is a real element, every body validates."""

from __future__ import annotations

import datetime as dt
import typing
from decimal import Decimal
from typing import Any

import pytest

import qbo_xsd
from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.quickbooks import models
from paymo_qb_mcp.quickbooks.models import (
    ENTITY_MODELS,
    Account,
    Bill,
    Customer,
    EmailAddress,
    Employee,
    Estimate,
    Invoice,
    Item,
    Line,
    LinkedTxn,
    MemoRef,
    Payment,
    PhysicalAddress,
    PurchaseOrder,
    QboEntity,
    QboModel,
    Ref,
    Term,
    TxnTaxDetail,
    Vendor,
)

# Our class names that differ from the XSD type names; references are simple content, not walked.
_XSD_TYPE = {"MetaData": "ModificationMetaData", "AccountingInfoPrefs": "CompanyAccountingPrefs"}
_NOT_WALKED = {"Ref", "MemoRef"}


def _nested_models(annotation: Any) -> list[type[QboModel]]:
    found: list[type[QboModel]] = []
    for arg in typing.get_args(annotation) or (annotation,):
        for inner in typing.get_args(arg) if typing.get_origin(arg) is list else (arg,):
            if isinstance(inner, type) and issubclass(inner, QboModel) and inner.__name__ not in _NOT_WALKED:
                found.append(inner)
    return found


def _undeclared_fields(model: type[QboModel], xsd_type_name: str, seen: set[str]) -> list[str]:
    if xsd_type_name in seen:
        return []
    seen.add(xsd_type_name)
    xsd_type = qbo_xsd.field_type(xsd_type_name)
    elements = qbo_xsd.child_elements(xsd_type)
    attributes = set(xsd_type.attributes)
    problems: list[str] = []
    for name, info in model.model_fields.items():
        if name not in elements and name not in attributes:
            problems.append(f"{model.__name__}.{name} is not in the XSD type {xsd_type_name}")
            continue
        for nested in _nested_models(info.annotation):
            problems += _undeclared_fields(nested, elements[name].type.local_name, seen)
    return problems


def test_every_declared_field_is_an_element_of_intuits_schema() -> None:
    seen: set[str] = set()
    problems = [
        problem for name, model in ENTITY_MODELS.items() for problem in _undeclared_fields(model, name, seen)
    ]
    assert problems == []
    # The walk reached the nested types, not only the entities.
    assert {
        "Line",
        "SalesItemLineDetail",
        "DescriptionLineDetail",
        "TxnTaxDetail",
        "ModificationMetaData",
    } <= seen


def test_the_class_names_follow_the_xsd_except_where_noted() -> None:
    nested = {
        name
        for name, value in vars(models).items()
        if isinstance(value, type)
        and issubclass(value, QboModel)
        and not issubclass(value, QboEntity)
        and not name.startswith("_")
    }
    for name in nested - _NOT_WALKED - {"QboModel"}:
        qbo_xsd.field_type(_XSD_TYPE.get(name, name))


def _wire(entity: QboEntity) -> dict[str, Any]:
    return dict(jsonwire.loads(jsonwire.dumps(entity.to_wire())))


GST = Ref(value="3", name="GST/QST QC - 9.975")
ADDRESS = PhysicalAddress(Line1="1 rue Sainte-Catherine", City="Montréal", CountrySubDivisionCode="QC")

BODIES: list[QboEntity] = [
    Customer(
        DisplayName="Café Lumière S.A.",
        CompanyName="Café Lumière S.A.",
        PrimaryEmailAddr=EmailAddress(Address="compta@cafe-lumiere.example"),
        BillAddr=ADDRESS,
        CurrencyRef=Ref(value="CAD"),
        Notes="paymo:client:2",
    ),
    Customer(Id="5", SyncToken="2", sparse=True, Active=False),
    Vendor(DisplayName="Pixel Freelance Co.", TermRef=Ref(value="3"), Vendor1099=False),
    Employee(GivenName="Chloé", FamilyName="Gagnon", DisplayName="Chloé Gagnon", BillRate=Decimal(110)),
    Item(Name="Design", Type="Service", IncomeAccountRef=Ref(value="6"), UnitPrice=Decimal("150.00")),
    Account(Name="Software", AccountType="Expense", AccountSubType="OfficeGeneralAdministrativeExpenses"),
    Term(Name="Net 45", DueDays=45),
    Invoice(
        CustomerRef=Ref(value="1"),
        DocNumber="INV-2026-1035",
        TxnDate=dt.date(2026, 11, 2),
        DueDate=dt.date(2026, 12, 2),
        CurrencyRef=Ref(value="CAD"),
        ExchangeRate=Decimal(1),
        GlobalTaxCalculation="TaxExcluded",
        ApplyTaxAfterDiscount=True,
        CustomerMemo=MemoRef(value="Thank you"),
        BillEmail=EmailAddress(Address="ap@acme.example"),
        Line=[
            Line.sales_item(
                amount=Decimal("3000.00"),
                item=Ref(value="1"),
                qty=Decimal(20),
                unit_price=Decimal(150),
                tax_code=GST,
            ),
            Line.description_only("Phase 1", service_date=dt.date(2026, 10, 31)),
            Line.discount(amount=Decimal("487.50")),
            Line.discount(percent=Decimal(10)),
        ],
        TxnTaxDetail=TxnTaxDetail(
            TotalTax=Decimal("449.25"),
            TaxLine=[
                Line.model_validate(
                    {
                        "Amount": Decimal("150.00"),
                        "DetailType": "TaxLineDetail",
                        "TaxLineDetail": {
                            "TaxRateRef": {"value": "1"},
                            "PercentBased": True,
                            "TaxPercent": Decimal(5),
                            "NetAmountTaxable": Decimal("3000.00"),
                        },
                    }
                )
            ],
        ),
    ),
    Estimate(
        CustomerRef=Ref(value="8"),
        TxnStatus="Accepted",
        ExpirationDate=dt.date(2026, 12, 31),
        Line=[Line.sales_item(amount=Decimal("25000"), item=Ref(value="1"), tax_code=GST)],
    ),
    Payment(
        CustomerRef=Ref(value="1"),
        TotalAmt=Decimal("1379.70"),
        PaymentRefNum="CHQ-1001",
        DepositToAccountRef=Ref(value="2"),
        Line=[Line(Amount=Decimal("1379.70"), LinkedTxn=[LinkedTxn(TxnId="130", TxnType="Invoice")])],
    ),
    Payment(Id="44", SyncToken="1", sparse=True),
    Bill(
        VendorRef=Ref(value="2"),
        DueDate=dt.date(2026, 12, 1),
        Line=[
            Line.account_expense(
                amount=Decimal("1200.00"),
                account=Ref(value="14"),
                billable_status="Billable",
                customer=Ref(value="8"),
            )
        ],
    ),
    PurchaseOrder(
        VendorRef=Ref(value="2"),
        POStatus="Open",
        Memo="Stark Prototype subcontracting",
        Line=[
            Line.model_validate(
                {
                    "Amount": Decimal("4000.00"),
                    "DetailType": "ItemBasedExpenseLineDetail",
                    "ItemBasedExpenseLineDetail": {"ItemRef": {"value": "1"}, "Qty": 40, "UnitPrice": 100},
                }
            )
        ],
    ),
]


@pytest.mark.parametrize("entity", BODIES, ids=lambda entity: f"{entity.entity_name}-{entity.Id or 'new'}")
def test_the_bodies_the_sync_sends_fit_the_xsd(entity: QboEntity) -> None:
    qbo_xsd.validate_entity(entity.entity_name, _wire(entity))


def test_the_xsd_check_is_not_a_rubber_stamp() -> None:
    wrong_detail_key = _wire(Invoice(CustomerRef=Ref(value="1")))
    wrong_detail_key["Line"] = [
        {"Amount": 1, "DetailType": "DescriptionOnly", "DescriptionOnlyLineDetail": {}}
    ]
    with pytest.raises(qbo_xsd.SchemaViolation):
        qbo_xsd.validate_entity("Invoice", wrong_detail_key)
