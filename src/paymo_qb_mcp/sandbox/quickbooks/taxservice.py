"""`POST /taxservice/taxcode` (reference §8.12): create a TaxCode with new or existing TaxRates."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from paymo_qb_mcp.sandbox.quickbooks import fault as faults
from paymo_qb_mcp.sandbox.quickbooks.engine import Engine
from paymo_qb_mcp.sandbox.quickbooks.wire import to_decimal

_APPLICABLE_ON = frozenset({"Sales", "Purchase"})


def create_tax_code(engine: Engine, payload: Any) -> dict[str, Any]:
    """Returns the TaxService echo: TaxCode, TaxCodeId and TaxRateDetails with their TaxRateIds."""
    state = engine.state
    if not isinstance(payload, Mapping):
        raise faults.invalid_value("TaxService", payload, "com.intuit.schema.finance.v3.TaxService")
    unknown = set(payload) - {"TaxCode", "TaxRateDetails"}
    if unknown:
        raise faults.unknown_property(sorted(unknown)[0], "TaxService")
    name = str(payload.get("TaxCode") or "").strip()
    if not name:
        raise faults.required("TaxCode")
    if any(engine.names_equal(str(row.get("Name", "")), name) for row in state.rows("TaxCode")):
        raise faults.duplicate_name("tax code")
    details = payload.get("TaxRateDetails")
    if not isinstance(details, list) or not details:
        raise faults.required("TaxRateDetails")
    sales: list[dict[str, Any]] = []
    purchases: list[dict[str, Any]] = []
    echoed: list[dict[str, Any]] = []
    pending_rates: list[dict[str, Any]] = []
    for detail in details:
        if not isinstance(detail, Mapping):
            raise faults.invalid_value(
                "TaxRateDetails", detail, "com.intuit.schema.finance.v3.TaxRateDetails"
            )
        applicable = str(detail.get("TaxApplicableOn") or "Sales")
        if applicable not in _APPLICABLE_ON:
            raise faults.invalid_enum("TaxApplicableOn", applicable)
        if detail.get("TaxRateId"):
            rate = state.get("TaxRate", str(detail["TaxRateId"]))
            if rate is None:
                raise faults.invalid_reference("TaxRate", str(detail["TaxRateId"]), "TaxRateId")
            pending_rates.append({"existing": rate["Id"], "applicable": applicable, "echo": dict(detail)})
            continue
        rate_name = str(detail.get("TaxRateName") or "").strip()
        value = to_decimal(detail.get("RateValue"))
        agency = str(detail.get("TaxAgencyId") or "")
        if not rate_name:
            raise faults.required("TaxRateName")
        if value is None or value < 0:
            raise faults.required("RateValue")
        if state.get("TaxAgency", agency) is None:
            raise faults.invalid_reference("TaxAgency", agency, "TaxAgencyId")
        pending_rates.append(
            {
                "name": rate_name,
                "value": value,
                "agency": agency,
                "applicable": applicable,
                "echo": dict(detail),
            }
        )
    for pending in pending_rates:
        if "existing" in pending:
            rate_id = str(pending["existing"])
        else:
            rate = state.insert(
                "TaxRate",
                {
                    "Name": pending["name"],
                    "Description": pending["name"],
                    "Active": True,
                    "RateValue": pending["value"],
                    "AgencyRef": {"value": pending["agency"]},
                    "SpecialTaxType": "NONE",
                    "DisplayType": "ReadOnly",
                },
            )
            rate_id = str(rate["Id"])
        entry = {"TaxRateRef": {"value": rate_id}, "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}
        (sales if pending["applicable"] == "Sales" else purchases).append(entry)
        echo = {**pending["echo"], "TaxRateId": rate_id}
        if "value" in pending:
            echo["RateValue"] = pending["value"]
        echoed.append(echo)
    taxable = any(
        Decimal(state.tables["TaxRate"][entry["TaxRateRef"]["value"]]["RateValue"]) > 0 for entry in sales
    )
    code = state.insert(
        "TaxCode",
        {
            "Name": name,
            "Description": name,
            "Active": True,
            "Hidden": False,
            "Taxable": taxable,
            "TaxGroup": len(sales) > 1,
            "SalesTaxRateList": {"TaxRateDetail": sales},
            "PurchaseTaxRateList": {"TaxRateDetail": purchases},
            "TaxCodeConfigType": "USER_DEFINED",
        },
    )
    return {"TaxCode": name, "TaxCodeId": code["Id"], "TaxRateDetails": echoed}
