"""Tests for bidding/sealed.py: sealed-bid commitments."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from bidding.sealed import commitment, verify_commitment


def test_commitment_is_sha256_of_the_documented_text() -> None:
    """The commitment is the hex SHA-256 of "auction|supplier|price|nonce"."""
    expected = hashlib.sha256(b"a1|s9|950|n0nce").hexdigest()
    assert commitment("a1", "s9", 950, "n0nce") == expected


@given(st.text(), st.text(), st.integers(1, 10**10), st.text())
def test_commitment_verifies_its_own_bid(
    auction: str, supplier: str, price: int, nonce: str
) -> None:
    """A commitment verifies against the bid and nonce it was made from."""
    assert verify_commitment(
        commitment(auction, supplier, price, nonce), auction, supplier, price, nonce
    )


@given(st.integers(1, 10**10), st.integers(1, 10**10))
def test_commitment_fails_for_another_price(price: int, other: int) -> None:
    """A commitment does not verify against a different price."""
    digest = commitment("a1", "s1", price, "nonce")
    assert verify_commitment(digest, "a1", "s1", other, "nonce") == (price == other)


def test_commitment_fails_for_another_nonce_or_garbage() -> None:
    """A wrong nonce or a non-hex digest does not verify."""
    digest = commitment("a1", "s1", 100, "right")
    assert not verify_commitment(digest, "a1", "s1", 100, "wrong")
    assert not verify_commitment("ünïcode", "a1", "s1", 100, "right")
