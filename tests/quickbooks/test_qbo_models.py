"""QBO wire models: exact field names, Decimal money, unknown fields kept, absent fields omitted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pydantic import ValidationError

from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.quickbooks.models import (
    ENTITY_MODELS,
    Customer,
    Invoice,
    Line,
    Payment,
    Ref,
    TimeActivity,
    detail_key_for,
    is_voided,
)

# Shaped like Intuit's documented invoice response, with a field this model does not declare.
INVOICE_RESPONSE = b"""{
  "Invoice": {
    "Id": "239", "SyncToken": "0", "domain": "QBO", "sparse": false, "DocNumber": "1070",
    "TxnDate": "2015-07-24", "CustomerRef": {"value": "1", "name": "Amy's Bird Sanctuary"},
    "TotalAmt": 150.0, "Balance": 150.0, "HomeBalance": 150.00,
    "MetaData": {"CreateTime": "2015-07-24T10:35:08-07:00", "LastUpdatedTime": "2015-07-24T10:35:08-07:00"},
    "Line": [
      {"Id": "1", "LineNum": 1, "Amount": 150.0, "DetailType": "SalesItemLineDetail",
       "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "Services"}, "Qty": 1.3333,
                               "UnitPrice": 112.5028125, "TaxCodeRef": {"value": "NON"}}},
      {"DetailType": "DescriptionOnly", "Description": "Thanks", "DescriptionLineDetail": {}},
      {"Amount": 150.0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    ],
    "TxnTaxDetail": {"TotalTax": 0},
    "LinkedTxn": [],
    "CustomField": [{"DefinitionId": "1", "Name": "Crew #", "Type": "StringType"}],
    "EInvoiceStatus": "Sent",
    "DeliveryInfo": {"DeliveryType": "Email", "DeliveryTime": "2015-07-24T10:36:00-07:00"}
  },
  "time": "2015-07-24T10:53:39.287-07:00"
}"""


def test_an_invoice_response_parses_with_exact_decimals_and_keeps_unknown_fields() -> None:
    invoice = Invoice.model_validate(jsonwire.loads(INVOICE_RESPONSE)["Invoice"])

    assert invoice.Id == "239"
    assert invoice.TotalAmt == Decimal("150.0")
    assert invoice.Line is not None
    detail = invoice.Line[0].SalesItemLineDetail
    assert detail is not None
    assert detail.UnitPrice == Decimal("112.5028125")
    assert isinstance(detail.Qty, Decimal)
    assert invoice.Line[1].DescriptionLineDetail is not None
    assert invoice.MetaData is not None
    assert invoice.MetaData.CreateTime == dt.datetime(
        2015, 7, 24, 10, 35, 8, tzinfo=dt.timezone(-dt.timedelta(hours=7))
    )
    assert invoice.model_extra == {
        "EInvoiceStatus": "Sent",
        "DeliveryInfo": {"DeliveryType": "Email", "DeliveryTime": "2015-07-24T10:36:00-07:00"},
    }


def test_a_read_invoice_round_trips_to_the_wire_unchanged() -> None:
    original = jsonwire.loads(INVOICE_RESPONSE)["Invoice"]
    written = jsonwire.loads(jsonwire.dumps(Invoice.model_validate(original).to_wire()))
    assert written == original


def test_the_wire_body_omits_absent_fields_and_writes_decimals_as_numbers() -> None:
    invoice = Invoice(
        CustomerRef=Ref(value="58"),
        TxnDate=dt.date(2026, 11, 30),
        Line=[Line.sales_item(amount=Decimal("1875.00"), item=Ref(value="1"), qty=Decimal("12.5"))],
    )
    body = jsonwire.dumps(invoice.to_wire())
    assert body == (
        b'{"TxnDate":"2026-11-30","Line":[{"Amount":1875.00,"DetailType":"SalesItemLineDetail",'
        b'"SalesItemLineDetail":{"ItemRef":{"value":"1"},"Qty":12.5}}],"CustomerRef":{"value":"58"}}'
    )
    assert b"null" not in body


def test_ids_and_sync_tokens_sent_as_numbers_become_strings() -> None:
    customer = Customer.model_validate({"Id": 7, "SyncToken": 0, "DisplayName": "Acme"})
    assert (customer.Id, customer.SyncToken) == ("7", "0")


def test_description_only_lines_carry_their_detail_under_description_line_detail() -> None:
    line = Line.description_only("Phase 1", service_date=dt.date(2026, 10, 1))
    assert line.to_wire() == {
        "Description": "Phase 1",
        "DetailType": "DescriptionOnly",
        "DescriptionLineDetail": {"ServiceDate": dt.date(2026, 10, 1)},
    }
    assert detail_key_for("DescriptionOnly") == "DescriptionLineDetail"
    assert detail_key_for("SalesItemLineDetail") == "SalesItemLineDetail"


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ({"DetailType": "DescriptionOnly", "DescriptionOnly": {}}, "DescriptionOnly"),
        ({"DetailType": "DescriptionOnly", "SalesItemLineDetail": {}}, "under DescriptionLineDetail"),
        # python-quickbooks' spelling bug: the wire key is SubTotalLineDetail.
        ({"DetailType": "SubTotalLineDetail", "SubtotalLineDetail": {}}, "not a QBO line detail key"),
        ({"Amount": 1, "SalesItemLineDetail": {}}, "needs DetailType"),
    ],
)
def test_a_line_whose_detail_key_does_not_match_its_type_is_refused(
    line: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Line.model_validate(line)


def test_payment_lines_need_no_detail_type_and_keep_the_linetx_blob() -> None:
    payment = Payment.model_validate(
        {
            "TotalAmt": Decimal("40.00"),
            "CustomerRef": {"value": "3"},
            "Line": [
                {
                    "Amount": Decimal("40.00"),
                    "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}],
                    "LineEx": {"any": [{"name": "{http://schema.intuit.com/finance/v3}NameValue"}]},
                }
            ],
        }
    )
    assert payment.Line is not None
    assert payment.Line[0].model_extra == {
        "LineEx": {"any": [{"name": "{http://schema.intuit.com/finance/v3}NameValue"}]}
    }


def test_discount_lines_take_an_amount_or_a_percent() -> None:
    fixed = Line.discount(amount=Decimal("487.50"))
    assert fixed.to_wire() == {
        "Amount": Decimal("487.50"),
        "DetailType": "DiscountLineDetail",
        "DiscountLineDetail": {"PercentBased": False},
    }
    with pytest.raises(ValueError, match="either amount or percent"):
        Line.discount(amount=Decimal(1), percent=Decimal(10))


def test_time_activity_start_times_must_carry_an_offset() -> None:
    with pytest.raises(ValidationError):
        TimeActivity.model_validate({"NameOf": "Employee", "StartTime": "2026-10-01T09:00:00"})
    activity = TimeActivity.model_validate({"NameOf": "Employee", "StartTime": "2026-10-01T09:00:00-04:00"})
    assert activity.StartTime is not None
    assert activity.StartTime.utcoffset() == dt.timedelta(hours=-4)


def test_every_entity_knows_its_envelope_key_path_and_capabilities() -> None:
    assert {name: model.path() for name, model in ENTITY_MODELS.items()}["PurchaseOrder"] == "purchaseorder"
    assert all(model.entity_name == name for name, model in ENTITY_MODELS.items())
    transactions = {name for name, model in ENTITY_MODELS.items() if model.is_transaction}
    assert transactions == {
        "Invoice",
        "Estimate",
        "Payment",
        "Purchase",
        "Bill",
        "PurchaseOrder",
        "TimeActivity",
    }
    voidable = {name: model.void_style for name, model in ENTITY_MODELS.items() if model.void_style}
    assert voidable == {"Invoice": "operation_void", "Payment": "update_include_void"}


def test_a_voided_transaction_is_kept_with_a_zero_total_and_a_voided_note() -> None:
    voided = Invoice(Id="239", TotalAmt=Decimal("0.00"), PrivateNote="Voided - Paymo invoice 1035")
    assert is_voided(voided)
    assert is_voided(Payment(Id="7", TotalAmt=Decimal(0), PrivateNote="Voided"))
    # A zero invoice is not a void, nor is a live one whose note merely starts with the word.
    assert not is_voided(Invoice(Id="240", TotalAmt=Decimal(0), PrivateNote="Free consultation"))
    assert not is_voided(Invoice(Id="241", TotalAmt=Decimal("10.00"), PrivateNote="Voided receipt re-issued"))
    assert not is_voided(Invoice(Id="242"))
