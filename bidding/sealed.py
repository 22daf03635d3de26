"""Commitments for sealed bids: proof that a sealed price was not changed after the fact.

While a sealed auction is live, the supplier receives only the commitment of its bid,
``sha256("{auction_id}|{supplier}|{price}|{nonce}")`` in lowercase hex (UTF-8). The
nonce is random, made and kept by the I/O layer (at least 16 random bytes, e.g.
``secrets.token_hex(16)``), and revealed with the price at the close, when anyone can
check the pair against the commitment with `verify_commitment`.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["commitment", "handle", "verify_commitment"]


def commitment(auction_id: str, supplier: str, price: int, nonce: str) -> str:
    """The hex SHA-256 commitment of a sealed bid."""
    text = f"{auction_id}|{supplier}|{price}|{nonce}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def handle(secret: bytes, bid_id: str) -> str:
    """The name a supplier knows its sealed bid by, instead of the engine's
    ``{auction}.{epoch}-{seq}``: the sequence number counts everybody's bids, so a
    supplier would learn how many rivals bid, and when. A keyed hash of the id (stable,
    the same on every worker, not reversible without ``secret``), ``{auction}.sealed-HEX``."""
    auction = bid_id.split(".", 1)[0]
    mac = hmac.new(secret, bid_id.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
    return f"{auction}.sealed-{mac}"


def verify_commitment(digest: str, auction_id: str, supplier: str, price: int, nonce: str) -> bool:
    """True if ``digest`` is the commitment of this bid and nonce (constant-time compare)."""
    expected = commitment(auction_id, supplier, price, nonce)
    return hmac.compare_digest(digest.encode("utf-8"), expected.encode("ascii"))
