"""Per-field fingerprints of a QBO record: stable under QBO's own bookkeeping, moved by a human's edit."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from paymo_qb_mcp.domain.fingerprint import edited_fields, field_digests, fingerprint

SENT = ("CustomerRef", "TxnDate", "DueDate", "Line", "CustomerMemo", "PrivateNote", "TxnTaxDetail")


def invoice() -> dict[str, Any]:
    """An invoice as QBO returns it after our create (wire form)."""
    return {
        "Id": "146",
        "SyncToken": "0",
        "MetaData": {
            "CreateTime": "2026-11-20T10:30:00-05:00",
            "LastUpdatedTime": "2026-11-20T10:30:00-05:00",
        },
        "CustomerRef": {"value": "58", "name": "Smith and Sons"},
        "TxnDate": "2026-11-02",
        "DueDate": "2026-12-02",
        "CustomerMemo": {"value": "Thank you for your business"},
        "PrivateNote": "Paymo invoice INV-2026-1039\npaymo:invoice:1039",
        "Line": [
            {
                "Id": "1",
                "LineNum": 1,
                "DetailType": "SalesItemLineDetail",
                "Amount": Decimal("360.00"),
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "1", "name": "Services"},
                    "Qty": Decimal("3"),
                    "UnitPrice": Decimal("120"),
                    "TaxCodeRef": {"value": "4"},
                },
            },
            {"DetailType": "SubTotalLineDetail", "Amount": Decimal("360.00"), "SubTotalLineDetail": {}},
        ],
        "TxnTaxDetail": {"TotalTax": Decimal("53.91")},
        "TotalAmt": Decimal("413.91"),
        "Balance": Decimal("413.91"),
    }


def test_qbos_bookkeeping_after_a_payment_is_not_an_edit() -> None:
    written = invoice()
    recorded = field_digests(written, SENT)
    paid = copy.deepcopy(written)
    paid["SyncToken"] = "3"
    paid["MetaData"]["LastUpdatedTime"] = "2026-11-25T09:00:00-05:00"
    paid["Balance"] = Decimal("13.91")
    paid["LinkedTxn"] = [{"TxnId": "301", "TxnType": "Payment"}]
    # Renaming the customer or the item in QuickBooks changes the names QBO shows on the invoice.
    paid["CustomerRef"]["name"] = "Smith & Sons Ltd"
    paid["Line"][0]["SalesItemLineDetail"]["ItemRef"]["name"] = "Consulting"

    assert edited_fields(paid, recorded) == ()
    assert field_digests(paid, SENT) == recorded


def test_a_payment_link_is_ignored_even_in_a_field_we_sent() -> None:
    sent = {"LinkedTxn": [{"TxnId": "9", "TxnType": "Estimate"}]}
    recorded = field_digests(sent, ["LinkedTxn"])
    paid = {"LinkedTxn": [{"TxnId": "9", "TxnType": "Estimate"}, {"TxnId": "301", "TxnType": "Payment"}]}
    assert edited_fields(paid, recorded) == ()
    assert edited_fields({"LinkedTxn": []}, recorded) == ("LinkedTxn",)


def test_open_balances_on_payment_lines_are_ignored() -> None:
    line = {"Amount": Decimal("2035.81"), "LinkedTxn": [{"TxnId": "146", "TxnType": "Invoice"}]}
    written = {"Line": [{**line, "LineEx": {"any": [{"name": "txnOpenBalance", "value": "5089.52"}]}}]}
    later = {"Line": [{**line, "LineEx": {"any": [{"name": "txnOpenBalance", "value": "3054.71"}]}}]}
    assert edited_fields(later, field_digests(written, ["Line"])) == ()


def test_due_date_line_and_memo_edits_are_named() -> None:
    written = invoice()
    recorded = field_digests(written, SENT)
    edited = copy.deepcopy(written)
    edited["DueDate"] = "2027-01-15"
    edited["CustomerMemo"] = {"value": "Paid by cheque, please"}
    edited["Line"][0]["SalesItemLineDetail"]["Qty"] = Decimal("4")
    assert edited_fields(edited, recorded) == ("CustomerMemo", "DueDate", "Line")


def test_a_line_added_or_a_reference_repointed_is_an_edit() -> None:
    written = invoice()
    recorded = field_digests(written, SENT)
    added = copy.deepcopy(written)
    added["Line"].insert(1, {"DetailType": "DescriptionOnly", "Description": "Travel not billed"})
    moved = copy.deepcopy(written)
    moved["CustomerRef"] = {"value": "59", "name": "Smith and Sons"}
    assert edited_fields(added, recorded) == ("Line",)
    assert edited_fields(moved, recorded) == ("CustomerRef",)


def test_a_field_cleared_or_set_from_nothing_is_an_edit() -> None:
    written = invoice()
    recorded = field_digests(written, [*SENT, "SalesTermRef"])
    cleared = copy.deepcopy(written)
    del cleared["CustomerMemo"]
    cleared["SalesTermRef"] = {"value": "3"}
    assert edited_fields(cleared, recorded) == ("CustomerMemo", "SalesTermRef")


def test_fields_not_recorded_are_not_compared() -> None:
    written = invoice()
    recorded = field_digests(written, ["DueDate"])
    edited = copy.deepcopy(written)
    edited["CustomerMemo"] = {"value": "changed"}
    assert set(recorded) == {"DueDate"}
    assert edited_fields(edited, recorded) == ()


def test_the_fingerprint_is_one_hash_over_the_fields_or_none() -> None:
    recorded = field_digests(invoice(), SENT)
    assert fingerprint({}) is None
    assert fingerprint(recorded) == fingerprint(dict(reversed(list(recorded.items()))))
    edited = invoice()
    edited["DueDate"] = "2027-01-15"
    assert fingerprint(field_digests(edited, SENT)) != fingerprint(recorded)


@given(
    amount=st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=2),
    extra_zeros=st.integers(min_value=0, max_value=4),
)
def test_numbers_compare_by_value_whatever_their_exponent(amount: Decimal, extra_zeros: int) -> None:
    longer = amount.quantize(Decimal(1).scaleb(-2 - extra_zeros))
    written = {"Line": [{"Amount": amount}], "ExchangeRate": amount}
    reread = {"Line": [{"Amount": longer}], "ExchangeRate": longer}
    assert edited_fields(reread, field_digests(written, ["Line", "ExchangeRate"])) == ()
    moved = {"Line": [{"Amount": amount + Decimal("0.01")}], "ExchangeRate": longer}
    assert edited_fields(moved, field_digests(written, ["Line", "ExchangeRate"])) == ("Line",)
