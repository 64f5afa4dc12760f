"""Canonical JSON, content hashes, requestids, markers and DocNumbers."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from paymo_qb_mcp.domain.keys import (
    BATCH_REQUEST_ID_MAX_LENGTH,
    DOC_NUMBER_MAX_LENGTH,
    REQUEST_ID_MAX_LENGTH,
    Marker,
    add_marker,
    canonical_json,
    content_hash,
    doc_number,
    find_markers,
    marker,
    parse_marker,
    request_id,
)
from paymo_qb_mcp.errors import InputError


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'


def test_canonical_json_normalises_decimals() -> None:
    assert (
        canonical_json(
            [Decimal("150.00"), Decimal("1.5E+2"), Decimal("0.10"), Decimal("-0"), Decimal("1E-7")]
        )
        == "[150,150,0.1,0,0.0000001]"
    )
    assert (
        content_hash({"amount": Decimal("150.00")})
        == content_hash({"amount": Decimal("150")})
        == content_hash({"amount": 150})
    )


def test_canonical_json_writes_dates_iso_and_instants_in_utc() -> None:
    montreal = dt.timezone(dt.timedelta(hours=-5))
    same_instant = [
        dt.datetime(2026, 11, 3, 9, 0, tzinfo=montreal),
        dt.datetime(2026, 11, 3, 14, 0, tzinfo=dt.UTC),
    ]
    assert canonical_json(same_instant[0]) == canonical_json(same_instant[1]) == '"2026-11-03T14:00:00+00:00"'
    assert canonical_json(dt.date(2026, 1, 2)) == '"2026-01-02"'


def test_canonical_json_refuses_floats_and_naive_datetimes() -> None:
    with pytest.raises(InputError, match="float"):
        canonical_json({"amount": 0.1})
    with pytest.raises(InputError, match="timezone-aware"):
        canonical_json(dt.datetime(2026, 1, 1, 12, 0))


def test_canonical_json_handles_sets_enums_models_and_int_keys() -> None:
    class Colour(enum.Enum):
        RED = "red"

    class Model(BaseModel):
        name: str
        amount: Decimal

    assert canonical_json({3, 1, 2}) == "[1,2,3]"
    assert canonical_json(Colour.RED) == '"red"'
    assert canonical_json(Model(name="x", amount=Decimal("1.0"))) == '{"amount":1,"name":"x"}'
    assert canonical_json({2: "b", 1: "a"}) == '{"1":"a","2":"b"}'
    assert canonical_json(uuid.UUID(int=0)) == '"00000000-0000-0000-0000-000000000000"'
    with pytest.raises(InputError, match="collide"):
        canonical_json({1: "a", "1": "b"})
    with pytest.raises(InputError):
        canonical_json(object())


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(max_size=10),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def _reverse_key_order(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reverse_key_order(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_key_order(item) for item in value]
    return value


@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_canonical_json_is_stable_under_key_order(value: Any) -> None:
    assert canonical_json(_reverse_key_order(value)) == canonical_json(value)
    assert content_hash(_reverse_key_order(value)) == content_hash(value)


def test_content_hash_is_sha256_hex_of_canonical_json() -> None:
    import hashlib

    assert content_hash({"a": 1}) == hashlib.sha256(b'{"a":1}').hexdigest()


@settings(max_examples=150)
@given(
    kind=st.sampled_from(["invoice", "customer", "payment", "time_activity", "expense"]),
    paymo_id=st.integers(min_value=0, max_value=10**18),
    digest=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    scope=st.text(max_size=60),
)
def test_request_id_is_deterministic_and_fits_both_qbo_limits(
    kind: str, paymo_id: int, digest: str, scope: str
) -> None:
    first = request_id(kind, paymo_id, digest, scope)
    assert first == request_id(kind, str(paymo_id), digest, scope)
    assert len(first) <= BATCH_REQUEST_ID_MAX_LENGTH <= REQUEST_ID_MAX_LENGTH
    assert uuid.UUID(first).version == 5


def test_request_id_changes_with_every_component() -> None:
    base = request_id("invoice", 1035, "a" * 64)
    assert (
        len(
            {
                base,
                request_id("payment", 1035, "a" * 64),
                request_id("invoice", 1036, "a" * 64),
                request_id("invoice", 1035, "b" * 64),
                request_id("invoice", 1035, "a" * 64, attempt_scope="approval-7"),
            }
        )
        == 5
    )


def test_request_id_rejects_missing_parts() -> None:
    with pytest.raises(InputError):
        request_id("Invoice", 1, "x")
    with pytest.raises(InputError):
        request_id("invoice", "", "x")
    with pytest.raises(InputError):
        request_id("invoice", 1, "")


def test_marker_round_trips_inside_other_text() -> None:
    assert marker("invoice", 123) == "paymo:invoice:123"
    note = "Synced from Paymo (paymo:invoice:123) — do not edit\nVoided"
    assert parse_marker(note) == Marker("invoice", 123) == ("invoice", 123)
    assert str(Marker("client", 7)) == "paymo:client:7"


def test_parse_marker_ignores_lookalikes() -> None:
    assert parse_marker(None) is None
    assert parse_marker("") is None
    assert parse_marker("xpaymo:invoice:1") is None
    assert parse_marker("paymo:invoice:") is None
    assert parse_marker("paymo:invoice:12:34") is None
    assert parse_marker("paymo:Invoice:12") is None


def test_find_markers_lists_each_once_in_order() -> None:
    text = "paymo:client:5 then paymo:invoice:9, again paymo:client:5"
    assert find_markers(text) == [Marker("client", 5), Marker("invoice", 9)]


def test_marker_rejects_bad_parts() -> None:
    with pytest.raises(InputError):
        marker("in voice", 1)
    with pytest.raises(InputError):
        marker("invoice", "12a")


def test_add_marker_appends_once_and_respects_the_field_length() -> None:
    assert add_marker(None, "invoice", 1, max_length=4000) == "paymo:invoice:1"
    assert add_marker("Memo", "invoice", 1, max_length=4000) == "Memo\npaymo:invoice:1"
    assert add_marker("Memo\npaymo:invoice:1", "invoice", 1, max_length=4000) == "Memo\npaymo:invoice:1"
    long_note = "x" * 3000
    marked = add_marker(long_note, "customer", 42, max_length=2000)
    assert len(marked) == 2000
    assert marked.endswith("…\npaymo:customer:42")
    assert parse_marker(marked) == Marker("customer", 42)


def test_doc_number_keeps_short_numbers() -> None:
    number = doc_number("INV-2026-1035")
    assert (number.value, number.altered, str(number)) == ("INV-2026-1035", False, "INV-2026-1035")


def test_doc_number_shortens_to_21_keeping_head_and_counter() -> None:
    number = doc_number("NORTHWIND-PIXEL-STUDIO-INV-2026-000123")
    assert len(number.value) == DOC_NUMBER_MAX_LENGTH
    assert number.value == "NORTHWIN~-2026-000123"
    assert number.altered
    assert number.original == "NORTHWIND-PIXEL-STUDIO-INV-2026-000123"
    assert "21" in number.changes[0]


def test_doc_number_normalises_whitespace_and_rejects_empty() -> None:
    assert doc_number(" INV\t7 ").value == "INV 7"
    with pytest.raises(InputError):
        doc_number("  ")
