"""The JSON codec keeps money exact both ways."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from paymo_qb_mcp.errors import DataError
from paymo_qb_mcp.net import jsonwire


def test_loads_turns_fractions_into_decimals_and_keeps_integers() -> None:
    parsed = jsonwire.loads(b'{"total": 1911.6, "tax": 318.60, "count": 375, "exp": 1e2}')
    assert parsed == {
        "total": Decimal("1911.6"),
        "tax": Decimal("318.60"),
        "count": 375,
        "exp": Decimal("1E+2"),
    }
    assert isinstance(parsed["total"], Decimal)
    assert str(parsed["tax"]) == "318.60"
    assert isinstance(parsed["count"], int)


def test_loads_accepts_text() -> None:
    assert jsonwire.loads('{"name": "Café"}') == {"name": "Café"}


@pytest.mark.parametrize(
    "document", [b"{not json", b"", b"<html>502</html>", "\udcff".encode("utf-8", "surrogatepass")]
)
def test_loads_raises_data_error_on_garbage(document: bytes) -> None:
    with pytest.raises(DataError):
        jsonwire.loads(document)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_loads_rejects_non_finite_constants(constant: str) -> None:
    with pytest.raises(DataError):
        jsonwire.loads('{"amount": ' + constant + "}")


def test_dumps_writes_decimals_digit_for_digit() -> None:
    body = jsonwire.dumps({"amount": Decimal("0.10"), "big": Decimal("12345678901234567890.01")})
    assert body == b'{"amount":0.10,"big":12345678901234567890.01}'


def test_dumps_is_utf8_not_escaped() -> None:
    assert jsonwire.dumps({"name": "O’Reilly Café"}) == '{"name":"O’Reilly Café"}'.encode()


class _Line(BaseModel):
    amount: Decimal
    day: dt.date
    at: dt.datetime
    tags: list[str]


def test_dumps_writes_pydantic_models_with_exact_money_and_iso_dates() -> None:
    line = _Line(
        amount=Decimal("49.99"),
        day=dt.date(2026, 11, 3),
        at=dt.datetime(2026, 11, 3, 9, 30, tzinfo=dt.UTC),
        tags=["Travel"],
    )
    assert jsonwire.dumps({"items": [line]}) == (
        b'{"items":[{"amount":49.99,"day":"2026-11-03","at":"2026-11-03T09:30:00Z","tags":["Travel"]}]}'
    )


def test_dumps_keeps_non_utc_offsets() -> None:
    montreal = dt.timezone(dt.timedelta(hours=-5))
    assert jsonwire.dumps(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=montreal)) == b'"2026-01-02T03:04:05-05:00"'


def test_dumps_refuses_naive_datetimes() -> None:
    with pytest.raises(DataError, match="naive"):
        jsonwire.dumps({"at": dt.datetime(2026, 1, 1, 12, 0)})


def test_dumps_refuses_non_finite_decimals() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        jsonwire.dumps(Decimal("NaN"))


def test_dumps_refuses_unknown_types() -> None:
    with pytest.raises(TypeError, match="object"):
        jsonwire.dumps(object())


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimals_round_trip_exactly(amount: Decimal) -> None:
    back = jsonwire.loads(jsonwire.dumps({"amount": amount}))["amount"]
    assert back == amount
    if isinstance(back, int):
        assert amount.as_tuple().exponent == 0
    else:
        assert str(back) == str(amount)  # same digits and exponent, not merely the same value
