"""Tests for bidding/errors.py: the exception tree and its codes."""

from __future__ import annotations

import pytest

from bidding import errors
from bidding.errors import (
    AboveCeiling,
    AuctionError,
    BidRejected,
    IllegalMove,
    InvalidRules,
)
from rfq.platform.errors import RateLimited

CONTRACT_CODES = {
    "above_ceiling",
    "below_decrement",
    "tie_not_allowed",
    "auction_not_live",
    "not_eligible",
    "invalid_price",
}
"""The contract's bid rejection codes that the auction's rules decide (its other one,
``rate_limited``, is the platform's throttle: ``rfq.platform.errors.RateLimited``)."""


def _error_classes() -> list[type[AuctionError]]:
    found = (getattr(errors, name) for name in errors.__all__)
    return [c for c in found if isinstance(c, type) and issubclass(c, AuctionError)]


def test_every_contract_rejection_code_has_a_bid_rejected_class() -> None:
    """Each bid rejection code the contract names belongs to a BidRejected subclass."""
    codes = {c.code for c in _error_classes() if issubclass(c, BidRejected)}
    assert codes >= CONTRACT_CODES
    assert RateLimited.code == "rate_limited"


def test_codes_are_unique_snake_case() -> None:
    """No two error classes share a code, and every code is snake_case."""
    codes = [c.code for c in _error_classes()]
    assert len(codes) == len(set(codes))
    assert all(code.replace("_", "").isalpha() and code.islower() for code in codes)


def test_every_error_class_is_documented_in_the_tree() -> None:
    """The module docstring's tree names every error class and its code."""
    doc = errors.__doc__ or ""
    for cls in _error_classes():
        assert cls.__name__ in doc and cls.code in doc


def test_bid_rejected_carries_message_and_min_acceptable() -> None:
    """A rejection keeps its sentence, its class code and the min acceptable price."""
    err = AboveCeiling("The price is above the ceiling price of 120.", min_acceptable=119)
    assert (err.code, err.message, err.min_acceptable) == (
        "above_ceiling",
        "The price is above the ceiling price of 120.",
        119,
    )
    assert str(err) == err.message
    assert BidRejected("No.").min_acceptable is None


def test_invalid_rules_names_the_field() -> None:
    """InvalidRules carries the dotted field path and the invalid_rules code."""
    err = InvalidRules("rules.decrement.bps", "bps must be from 1 to 5000.")
    assert (err.code, err.field, err.message) == (
        "invalid_rules",
        "rules.decrement.bps",
        "bps must be from 1 to 5000.",
    )


def test_illegal_transition_names_state_and_move() -> None:
    """IllegalMove's sentence names the state and the move."""
    with pytest.raises(IllegalMove) as caught:
        raise IllegalMove("closed", "open")
    assert "'closed'" in caught.value.message and "'open'" in caught.value.message
    assert (caught.value.state, caught.value.move) == ("closed", "open")
