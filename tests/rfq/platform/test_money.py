"""Money in integer minor units: formatting, parsing, strict request fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from rfq.platform.money import Amount, CurrencyCode, format_major, parse_major


class _Body(BaseModel):
    amount: Amount
    currency: CurrencyCode = "CNY"


def test_format_major_uses_the_currency_decimals() -> None:
    """950 fen is "9.50" CNY; yen have no decimals; dinars have three."""
    assert format_major(950, "CNY") == "9.50"
    assert format_major(5, "CNY") == "0.05"
    assert format_major(1200, "JPY") == "1200"
    assert format_major(1234, "KWD") == "1.234"
    assert format_major(-950, "CNY") == "-9.50"


def test_parse_major_refuses_extra_decimals() -> None:
    """Parsing "9.505" CNY is refused rather than rounded."""
    assert parse_major("9.50", "CNY") == 950
    assert parse_major("1,200", "JPY") == 1200
    with pytest.raises(ValueError, match="at most 2 decimals"):
        parse_major("9.505", "CNY")
    with pytest.raises(ValueError):
        parse_major("nine", "CNY")


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["CNY", "JPY", "KWD"]))
def test_format_then_parse_round_trips(amount: int, currency: str) -> None:
    """parse_major(format_major(x)) == x for every amount and currency."""
    assert parse_major(format_major(amount, currency), currency) == amount


@pytest.mark.parametrize("bad", [9.5, "950", True, -1, 10**16])
def test_amount_fields_are_strict(bad: object) -> None:
    """Floats, strings, booleans, negatives and absurd amounts fail validation."""
    with pytest.raises(ValidationError):
        _Body.model_validate({"amount": bad})


def test_unknown_currency_is_refused() -> None:
    """A currency outside the ISO 4217 table fails validation."""
    with pytest.raises(ValidationError, match="ISO 4217"):
        _Body.model_validate({"amount": 1, "currency": "XXX"})
