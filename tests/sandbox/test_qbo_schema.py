"""The emulator against Intuit's XSD: every accepted field exists there, every seeded record validates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

import qbo_xsd
from paymo_qb_mcp.sandbox.quickbooks import QboEmulator
from paymo_qb_mcp.sandbox.quickbooks.fields import ENTITY_FIELDS, Field, Kind

pytestmark = pytest.mark.skipif(not qbo_xsd.available(), reason="Intuit's XSD files are not available")

_ATTRIBUTES = {"domain", "sparse", "status"}


def _unknown_fields(fields: Mapping[str, Field], xsd_type: Any, path: str) -> list[str]:
    children = qbo_xsd.child_elements(xsd_type)
    attributes = set(xsd_type.attributes) if xsd_type.attributes else set()
    missing: list[str] = []
    for name, field in fields.items():
        where = f"{path}.{name}"
        if name in _ATTRIBUTES:
            if name not in attributes:
                missing.append(where)
            continue
        element = children.get(name)
        if element is None:
            missing.append(where)
        elif field.kind is Kind.OBJECT and field.children is not None:
            missing += _unknown_fields(field.children, element.type, where)
        elif field.kind is Kind.REF and element.type.local_name != "ReferenceType":
            missing.append(f"{where} (not a ReferenceType)")
        elif field.repeated and element.max_occurs == 1:
            missing.append(f"{where} (not repeated in the XSD)")
    return missing


@pytest.mark.parametrize("entity", sorted(ENTITY_FIELDS))
def test_every_field_the_emulator_accepts_exists_in_the_xsd(entity: str) -> None:
    assert _unknown_fields(ENTITY_FIELDS[entity], qbo_xsd.field_type(entity), entity) == []


@pytest.mark.parametrize("tax_model", ["global", "us"])
def test_every_seeded_record_validates(tax_model: str) -> None:
    emulator = QboEmulator(tax_model=tax_model)  # type: ignore[arg-type]
    checked = 0
    for entity, table in emulator.state.tables.items():
        for record in table.values():
            qbo_xsd.validate_entity(entity, record)
            checked += 1
    assert checked > 60


def test_the_oracle_rejects_misspelt_keys_bad_enums_and_bad_dates() -> None:
    good = {
        "CustomerRef": {"value": "1", "name": "ACME"},
        "TxnDate": "2026-11-20",
        "GlobalTaxCalculation": "TaxExcluded",
    }
    qbo_xsd.validate_entity("Invoice", good)
    for bad in (
        {**good, "CustmerRef": {"value": "1"}},
        {**good, "GlobalTaxCalculation": "Nope"},
        {**good, "TxnDate": "20/11/2026"},
        {**good, "domain": "QBO", "sparse": "maybe"},
    ):
        with pytest.raises(qbo_xsd.SchemaViolation, match="Invoice does not match"):
            qbo_xsd.validate_entity("Invoice", bad)
    with pytest.raises(qbo_xsd.SchemaViolation, match="no element"):
        qbo_xsd.validate_entity("Gizmo", {})


def test_payment_line_extensions_convert_to_name_value_elements() -> None:
    line_ex = {
        "any": [
            {
                "name": "{http://schema.intuit.com/finance/v3}NameValue",
                "value": {"Name": "txnId", "Value": "1"},
            }
        ]
    }
    assert qbo_xsd.to_xsd_data(line_ex) == {"NameValue": [{"Name": "txnId", "Value": "1"}]}
    payment = {"TotalAmt": 1, "Line": [{"Amount": 1, "LineEx": line_ex}]}
    qbo_xsd.validate_entity("Payment", payment)


def test_the_field_walk_notices_fields_the_xsd_lacks() -> None:
    fields = {
        "Colour": Field(Kind.STRING),
        "BillAddr": Field(Kind.OBJECT, children={"Planet": Field(Kind.STRING)}),
    }
    assert _unknown_fields(fields, qbo_xsd.field_type("Customer"), "Customer") == [
        "Customer.Colour",
        "Customer.BillAddr.Planet",
    ]
