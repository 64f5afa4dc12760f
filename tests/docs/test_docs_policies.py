"""The shipped policies load, and every QuickBooks record their `mappings` name exists in the demo company."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docs_support import REPO, relative
from pydantic import BaseModel

from paymo_qb_mcp.config.policy import Policy, QboRef, load_policy
from paymo_qb_mcp.sandbox import Sandbox

POLICY_FILES: tuple[Path, ...] = (
    REPO / "policies.yaml",
    *sorted((REPO / "examples" / "policies").glob("*.yaml")),
)


def test_there_are_example_policies() -> None:
    assert {path.name for path in POLICY_FILES} >= {"policies.yaml", "strict.yaml", "relaxed.yaml"}


@pytest.mark.parametrize("path", POLICY_FILES, ids=relative)
def test_policy_loads(path: Path) -> None:
    policy = load_policy(path)
    assert policy.version == 1
    assert policy.rules, f"{relative(path)} has no rules"


def _all_refs(value: Any, where: str) -> Iterator[tuple[str, QboRef]]:
    if isinstance(value, QboRef):
        yield where, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _all_refs(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _all_refs(item, f"{where}[{key}]")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _all_refs(item, f"{where}[{index}]")


def _entity_refs(policy: Policy) -> list[tuple[str, str, QboRef]]:
    """(where, QBO entity, reference) for every record the mappings name."""
    mappings = policy.mappings
    refs: list[tuple[str, str, QboRef]] = []
    if mappings.tax.exempt_code is not None:
        refs.append(("tax.exempt_code", "TaxCode", mappings.tax.exempt_code))
    refs += [(f"tax.codes[{i}]", "TaxCode", code.qbo_tax_code) for i, code in enumerate(mappings.tax.codes)]
    if mappings.expense_accounts is not None:
        refs += [
            (f"expense_accounts.by_tag[{tag}]", "Account", ref)
            for tag, ref in mappings.expense_accounts.by_tag.items()
        ]
        refs.append(("expense_accounts.default", "Account", mappings.expense_accounts.default))
    target = mappings.expense_target
    if target is not None and target.payment_account is not None:
        refs.append(("expense_target.payment_account", "Account", target.payment_account))
    if target is not None and target.vendor is not None:
        refs.append(("expense_target.vendor", "Vendor", target.vendor))
    refs.append(("service_item", "Item", mappings.service_item))
    if mappings.purchase_order_vendor is not None:
        refs.append(("purchase_order_vendor", "Vendor", mappings.purchase_order_vendor))
    if mappings.payment_deposit_account is not None:
        refs.append(("payment_deposit_account", "Account", mappings.payment_deposit_account))
    times = mappings.time_activities
    refs.append(("time_activities.item", "Item", times.item))
    refs += [(f"time_activities.users[{user}]", times.name_of, ref) for user, ref in times.users.items()]
    return refs


@pytest.mark.parametrize("path", POLICY_FILES, ids=relative)
def test_mappings_name_records_of_the_demo_company(path: Path) -> None:
    # The shipped files say their ids are the sandbox demo company's (global tax model).
    policy = load_policy(path)
    refs = _entity_refs(policy)
    walked = list(_all_refs(policy.mappings, "mappings"))
    assert len(refs) == len(walked), f"a mapping field is not checked here: {[w for w, _ in walked]}"
    tables = Sandbox.create(seed="demo", tax_model="global").qbo.state.tables
    for where, entity, ref in refs:
        records = tables[entity]
        if ref.id is not None:
            record = records.get(ref.id)
            assert record is not None, f"{relative(path)} mappings.{where}: no {entity} with Id {ref.id}"
        else:
            matches = [r for r in records.values() if (r.get("Name") or r.get("DisplayName")) == ref.name]
            assert len(matches) == 1, (
                f"{relative(path)} mappings.{where}: {entity} {ref.name!r} not found once"
            )
            record = matches[0]
        shown = record.get("Name") or record.get("DisplayName")
        assert ref.name is None or ref.name.casefold() == str(shown).casefold(), (
            f"{relative(path)} mappings.{where}: {entity} {ref.id} is {shown!r}, not {ref.name!r}"
        )
        assert record.get("Active") is not False, f"{relative(path)} mappings.{where}: {entity} is inactive"
