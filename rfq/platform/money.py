"""Money: an integer count of minor units plus an ISO 4217 currency. No floats, ever.

Request schemas use :data:`Amount` (a strict int: a float or a string in JSON is a
422) and :data:`CurrencyCode`. Pages show and read amounts in major units with the
currency's decimals (``format_major(950, "CNY") == "9.50"``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, Field, Strict

# ISO 4217 currencies the platform accepts, with their number of minor-unit digits.
DECIMALS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "TWD": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "JPY": 0,
    "KRW": 0,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "INR": 2,
    "THB": 2,
    "VND": 0,
    "MYR": 2,
    "IDR": 2,
    "PHP": 2,
    "RUB": 2,
    "AED": 2,
    "SAR": 2,
    "BRL": 2,
    "MXN": 2,
    "KWD": 3,
}

DEFAULT_CURRENCY = "CNY"
MAX_AMOUNT = 10**15  # far above any real lot, far below 2**53 (safe in Lua and JSON)


def _known_currency(code: str) -> str:
    if code not in DECIMALS:
        raise ValueError(f"{code!r} is not a supported ISO 4217 currency code")
    return code


Amount = Annotated[int, Strict(), Field(ge=0, le=MAX_AMOUNT)]
"""A non-negative amount in minor units; JSON floats and strings are refused."""

PositiveAmount = Annotated[int, Strict(), Field(gt=0, le=MAX_AMOUNT)]
"""A positive amount in minor units."""

CurrencyCode = Annotated[str, AfterValidator(_known_currency)]
"""An upper-case ISO 4217 code from :data:`DECIMALS`."""


def decimals(currency: str) -> int:
    """The number of minor-unit digits of ``currency``."""
    return DECIMALS[_known_currency(currency)]


def format_major(amount: int, currency: str) -> str:
    """``amount`` minor units as major-unit text: ``format_major(950, "CNY") == "9.50"``."""
    places = decimals(currency)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


def parse_major(text: str, currency: str) -> int:
    """Major-unit text as minor units; more decimals than the currency has is an error."""
    places = decimals(currency)
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount")
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        raise ValueError(f"{currency} amounts have at most {places} decimals")
    return int(minor)


def times(unit_price: int, quantity: int) -> int:
    """A line total: unit price times quantity, exact."""
    return unit_price * quantity
