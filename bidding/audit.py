"""The hash chain of an auction's audit log: sealing and verification, pure.

Entry ``n`` (``chain_index`` n, from 1) has
``hash_n = sha256(hash_{n-1} + "\\n" + canonical(entry_n))`` with ``hash_0`` the
sha256 of ``"rfq-arena:auction:<id>"``. ``canonical`` is the compact, key-sorted JSON
of ``{auction, epoch, aseq, kind, at, data}`` (``at`` in epoch milliseconds). Changing,
removing or reordering any sealed entry changes every later hash, so publishing the
last hash (``GET /api/auctions/{id}/audit`` shows it) pins the whole history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit entry as it is hashed."""

    auction_id: int
    epoch: int
    aseq: int
    kind: str
    at_ms: int
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of checking a chain: ``ok``, how many entries, and the first problem."""

    ok: bool
    entries: int
    head: str
    problem: str | None = None


def genesis(auction_id: int) -> str:
    """The hash before the first entry."""
    return hashlib.sha256(f"rfq-arena:auction:{auction_id}".encode()).hexdigest()


def canonical(entry: Entry) -> bytes:
    """The bytes of ``entry`` that are hashed."""
    body = {
        "auction": entry.auction_id,
        "epoch": entry.epoch,
        "aseq": entry.aseq,
        "kind": entry.kind,
        "at": entry.at_ms,
        "data": entry.data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(previous: str, entry: Entry) -> str:
    """The hash of ``entry`` chained after ``previous``."""
    return hashlib.sha256(previous.encode() + b"\n" + canonical(entry)).hexdigest()


def verify(auction_id: int, chain: Iterable[tuple[int, Entry, str | None]]) -> Verdict:
    """Check ``(chain_index, entry, stored hash)`` triples in chain order."""
    head = genesis(auction_id)
    count = 0
    for index, entry, stored in chain:
        count += 1
        if index != count:
            return Verdict(False, count, head, f"chain index {index} where {count} was expected")
        head = link(head, entry)
        if stored != head:
            return Verdict(
                False, count, head, f"entry {index} (aseq {entry.aseq}) does not match its hash"
            )
    return Verdict(True, count, head)
