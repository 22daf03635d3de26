"""One ``reverse_english`` or ``sealed`` auction: its state machine, bids and ladder.

An `Auction` is a frozen value; every function returns a new one plus the events it
produced. Time is always an argument (``now_ms``, epoch milliseconds, from one clock:
the Redis server's); ids and nonces are passed in. Nothing here does I/O.

Lifecycle (`transition`, one table)::

    scheduled --open--> live --close--> closed --award--> awarded
                                        closed --no_award--> no_award
    scheduled, live --cancel--> cancelled

`open_auction` needs ``now_ms >= starts_at_ms`` and `close_auction` needs
``now_ms >= ends_at_ms``, so a close racing a soft-close extension is refused;
`tick` makes whichever of the two the time calls for.

Bids (`place_bid`): the auction must be live with ``starts_at_ms <= now_ms <
ends_at_ms`` (else ``auction_not_live``); then `bidding.decide.check_bid` decides the
price. A lot with ``pre_bids`` also takes bids while scheduled, before ``starts_at_ms``
(`pre_bid_phase`): blind ones, checked against the ceiling and the bidder's own pre-bid
only (as if ``decrement_from`` were ``own`` and ``ties`` ``earlier_wins``, since nobody
may see a rival's pre-bid yet), with no rank, no soft close and no proxy answer; at the
opening they are the ladder's first standing bids. A supplier's *standing bid* is its
latest bid that is not void; since each new bid undercuts the previous one, it is also
its lowest. The `ladder` ranks standing bids by transformed price, then by ``seq``
(earlier first).

Soft close: after each accepted bid, `bidding.decide.extension_end` says whether
``ends_at_ms`` moves (to ``now_ms + extend_s * 1000``, if that is later).

Events: every state change (opened, bid, extended, voided, closed, awarded, no_award,
cancelled) takes the next ``seq``, so ``seq`` counts events with no gaps. Setting a
proxy is private to its supplier and takes no ``seq``; the bids it makes do.

Proxy bidding (``reverse_english`` only): a supplier leaves a floor with `set_proxy`.
After every accepted bid, and when a proxy is set on a live auction, the engine runs
rounds until no proxy can take the lead:

1. The leader is the first ladder entry. *Contenders* are the proxy suppliers other
   than the leader for which `bidding.decide.lead_range` is not None: some price at or
   above their floor passes the rules and would lead.
2. None: stop. Otherwise the *strongest* is, among the contenders and the leader if it
   has a proxy, the one with the lowest transformed floor (then the smallest supplier
   id).
3. Every other contender, weakest (highest transformed floor) first, bids its floor if
   that still leads: the strongest would push it there anyway, so the war ends in a
   few bids instead of one per minor unit.
4. If the strongest is a contender, it bids the highest price that leads: the
   smallest step that puts it first again. Back to 1.

Each round places at least one bid; a bid at a floor leaves that proxy no leading
price again, so a run makes at most about two bids per proxy. Proxy bids have
``proxy=True`` and the id ``"{auction_id}:p{seq}"``. Voiding a bid does not run proxies.

Sealed: no soft close, no proxies, and each bid carries its `bidding.sealed`
commitment; the returned rank is None, since a supplier may not learn it before the
close.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

from bidding.decide import (
    Situation,
    Transform,
    check_bid,
    extension_end,
    highest_acceptable,
    lead_range,
    validate_transform,
)
from bidding.errors import (
    AuctionNotLive,
    BidNotVoidable,
    IllegalMove,
    InvalidPrice,
    InvalidRules,
    WrongFormat,
)
from bidding.rules import MAX_PRICE, DecrementFrom, Format, LotRules, Ties
from bidding.sealed import commitment

__all__ = [
    "EVENT_OF_MOVE",
    "Auction",
    "AuctionStatus",
    "Bid",
    "BidAccepted",
    "BidPlaced",
    "Event",
    "Extended",
    "LadderEntry",
    "Move",
    "StatusChanged",
    "StatusType",
    "Voided",
    "best_price",
    "cancel_auction",
    "clear_proxy",
    "close_auction",
    "ladder",
    "min_acceptable",
    "new_auction",
    "open_auction",
    "place_bid",
    "pre_bid_phase",
    "rank_of",
    "reserve_met",
    "set_proxy",
    "settle",
    "situation",
    "tick",
    "transition",
    "void_bid",
]


class AuctionStatus(StrEnum):
    """Where an auction is in its life."""

    scheduled = "scheduled"
    live = "live"
    closed = "closed"
    awarded = "awarded"
    no_award = "no_award"
    cancelled = "cancelled"


OPEN = frozenset({AuctionStatus.scheduled, AuctionStatus.live})
"""Statuses that take bids now or will."""
ENDED = frozenset(
    {AuctionStatus.closed, AuctionStatus.awarded, AuctionStatus.no_award, AuctionStatus.cancelled}
)
"""Statuses that take no more bids."""
DECIDED = frozenset({AuctionStatus.awarded, AuctionStatus.no_award, AuctionStatus.cancelled})
"""Statuses that are final: the buyer (or a cancel) has decided the lot."""


class Move(StrEnum):
    """A change of status, named as the operation that makes it."""

    open = "open"
    close = "close"
    award = "award"
    no_award = "no_award"
    cancel = "cancel"


_TRANSITIONS: Mapping[tuple[AuctionStatus, Move], AuctionStatus] = {
    (AuctionStatus.scheduled, Move.open): AuctionStatus.live,
    (AuctionStatus.scheduled, Move.cancel): AuctionStatus.cancelled,
    (AuctionStatus.live, Move.close): AuctionStatus.closed,
    (AuctionStatus.live, Move.cancel): AuctionStatus.cancelled,
    (AuctionStatus.closed, Move.award): AuctionStatus.awarded,
    (AuctionStatus.closed, Move.no_award): AuctionStatus.no_award,
}

StatusType = Literal["opened", "closed", "awarded", "no_award", "cancelled"]

EVENT_OF_MOVE: Mapping[Move, StatusType] = {
    Move.open: "opened",
    Move.close: "closed",
    Move.award: "awarded",
    Move.no_award: "no_award",
    Move.cancel: "cancelled",
}
"""The type of the event each move emits."""


def transition(status: AuctionStatus, move: Move) -> AuctionStatus:
    """The status after ``move``; raises `IllegalMove` if ``status`` forbids it."""
    after = _TRANSITIONS.get((status, move))
    if after is None:
        raise IllegalMove(status.value, move.value)
    return after


@dataclass(slots=True, frozen=True)
class Bid:
    """One accepted bid, kept on the record even when void.

    ``transformed`` is the ranking key (`bidding.decide.Transform`); ``commitment`` is set
    for sealed bids only.
    """

    bid_id: str
    supplier: str
    price: int
    transformed: int
    at_ms: int
    seq: int
    proxy: bool = False
    voided: bool = False
    void_reason: str | None = None
    commitment: str | None = None


@dataclass(slots=True, frozen=True)
class Auction:
    """The whole state of one auction; build it with `new_auction`.

    ``transforms`` maps a supplier to its ranking transform (identity if absent);
    ``proxies`` maps a supplier to its proxy floor.
    """

    auction_id: str
    rules: LotRules
    ceiling_price: int
    starts_at_ms: int
    ends_at_ms: int
    reserve_price: int | None = None
    status: AuctionStatus = AuctionStatus.scheduled
    extensions: int = 0
    seq: int = 0
    bids: tuple[Bid, ...] = ()
    transforms: Mapping[str, Transform] = field(default_factory=dict)
    proxies: Mapping[str, int] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class LadderEntry:
    """One supplier's place: its standing bid and its rank (1 is best)."""

    rank: int
    bid_id: str
    supplier: str
    price: int
    transformed: int
    at_ms: int


@dataclass(slots=True, frozen=True)
class StatusChanged:
    """The auction moved to ``status``; ``type`` names the move's event."""

    type: StatusType
    seq: int
    at_ms: int
    status: AuctionStatus
    ends_at_ms: int


@dataclass(slots=True, frozen=True)
class BidPlaced:
    """A bid was accepted (``bid.proxy`` tells a proxy bid)."""

    seq: int
    at_ms: int
    bid: Bid
    type: Literal["bid"] = field(default="bid", init=False)


@dataclass(slots=True, frozen=True)
class Extended:
    """A bid in the soft-close window moved the end to ``ends_at_ms``."""

    seq: int
    at_ms: int
    ends_at_ms: int
    extensions: int
    type: Literal["extended"] = field(default="extended", init=False)


@dataclass(slots=True, frozen=True)
class Voided:
    """An operator voided a bid; it stays on the record but leaves the ladder."""

    seq: int
    at_ms: int
    bid_id: str
    reason: str
    type: Literal["voided"] = field(default="voided", init=False)


Event = StatusChanged | BidPlaced | Extended | Voided


@dataclass(slots=True, frozen=True)
class BidAccepted:
    """The outcome of `place_bid`.

    ``rank`` is the bidder's rank once the proxies have answered (None for sealed
    bids); ``ends_at_ms`` the end after any extension; ``proxy_bids`` the bids the
    engine placed in answer; ``events`` everything that happened, in ``seq`` order.
    """

    bid: Bid
    rank: int | None
    ends_at_ms: int
    extended: bool
    proxy_bids: tuple[Bid, ...]
    events: tuple[Event, ...]


def new_auction(
    auction_id: str,
    rules: LotRules,
    *,
    ceiling_price: int,
    starts_at_ms: int,
    ends_at_ms: int,
    reserve_price: int | None = None,
    transforms: Mapping[str, Transform] | None = None,
) -> Auction:
    """A scheduled auction, validated; raises `InvalidRules` naming the bad field.

    Clock formats are not auctions of this module: see `bidding.price_clock`.
    """
    if rules.format.is_clock:
        raise InvalidRules("rules.format", f"A {rules.format} auction runs on bidding.price_clock.")
    if rules.decrement is None:
        raise InvalidRules("rules.decrement", f"The {rules.format} format needs a decrement.")
    if not _is_int(ceiling_price) or not 1 <= ceiling_price <= MAX_PRICE:
        raise InvalidRules("ceiling_price", f"The ceiling price must be from 1 to {MAX_PRICE}.")
    if reserve_price is not None and not (_is_int(reserve_price) and 1 <= reserve_price):
        raise InvalidRules("reserve_price", "The reserve price must be a positive integer.")
    if not starts_at_ms < ends_at_ms:
        raise InvalidRules("ends_at", "The auction must end after it starts.")
    transforms = dict(transforms or {})
    for supplier, transform in transforms.items():
        validate_transform(transform, f"transforms.{supplier}")
    return Auction(
        auction_id=auction_id,
        rules=rules,
        ceiling_price=ceiling_price,
        starts_at_ms=starts_at_ms,
        ends_at_ms=ends_at_ms,
        reserve_price=reserve_price,
        transforms=transforms,
    )


def open_auction(auction: Auction, now_ms: int) -> tuple[Auction, tuple[Event, ...]]:
    """Make a scheduled auction live; refused before ``starts_at_ms``."""
    if auction.status is AuctionStatus.scheduled and now_ms < auction.starts_at_ms:
        raise IllegalMove(
            auction.status.value, Move.open.value, f"It starts at {auction.starts_at_ms}."
        )
    return _move(auction, Move.open, now_ms)


def close_auction(auction: Auction, now_ms: int) -> tuple[Auction, tuple[Event, ...]]:
    """Close a live auction; refused before ``ends_at_ms`` (which bids may have moved)."""
    if auction.status is AuctionStatus.live and now_ms < auction.ends_at_ms:
        raise IllegalMove(
            auction.status.value, Move.close.value, f"It is live until {auction.ends_at_ms}."
        )
    return _move(auction, Move.close, now_ms)


def cancel_auction(auction: Auction, now_ms: int) -> tuple[Auction, tuple[Event, ...]]:
    """Cancel a scheduled or live auction."""
    return _move(auction, Move.cancel, now_ms)


def settle(auction: Auction, *, awarded: bool, now_ms: int) -> tuple[Auction, tuple[Event, ...]]:
    """Record the buyer's decision on a closed auction: awarded, or no award."""
    return _move(auction, Move.award if awarded else Move.no_award, now_ms)


def tick(auction: Auction, now_ms: int) -> tuple[Auction, tuple[Event, ...]]:
    """Open and/or close the auction if ``now_ms`` calls for it; else change nothing."""
    events: tuple[Event, ...] = ()
    if auction.status is AuctionStatus.scheduled and now_ms >= auction.starts_at_ms:
        auction, events = open_auction(auction, now_ms)
    if auction.status is AuctionStatus.live and now_ms >= auction.ends_at_ms:
        auction, closed = close_auction(auction, now_ms)
        events += closed
    return auction, events


def place_bid(
    auction: Auction,
    supplier: str,
    price: object,
    now_ms: int,
    bid_id: str,
    *,
    nonce: str | None = None,
) -> tuple[Auction, BidAccepted]:
    """Place a supplier's bid, or raise the `BidRejected` subclass that says why not.

    ``bid_id`` must be unique in the auction (the I/O layer makes it). A sealed bid
    needs ``nonce`` for its commitment; other formats ignore it. On acceptance the
    soft close may extend the auction and proxies answer (see the module docstring).
    """
    sealed = auction.rules.format is Format.sealed
    if sealed and nonce is None:
        raise ValueError("A sealed bid needs a nonce for its commitment.")
    pre = pre_bid_phase(auction, now_ms)
    if pre:
        blind = situation(auction, supplier)
        own = Situation(blind.ceiling_price, blind.transform, blind.own_price)
        rules = replace(auction.rules, decrement_from=DecrementFrom.own, ties=Ties.earlier_wins)
        transformed = check_bid(rules, own, price)
    else:
        _check_live(auction, now_ms)
        transformed = check_bid(auction.rules, situation(auction, supplier), price)
    assert isinstance(price, int)
    digest = None
    if sealed and nonce is not None:
        digest = commitment(auction.auction_id, supplier, price, nonce)
    bid = Bid(bid_id, supplier, price, transformed, now_ms, auction.seq + 1, commitment=digest)
    auction, events = _record(auction, bid)
    proxy_bids: tuple[Bid, ...] = ()
    if not sealed and not pre:
        auction, answers = _run_proxies(auction, now_ms)
        events += answers
        proxy_bids = tuple(e.bid for e in answers if isinstance(e, BidPlaced))
    accepted = BidAccepted(
        bid=bid,
        rank=None if sealed or pre else rank_of(auction, supplier),
        ends_at_ms=auction.ends_at_ms,
        extended=any(isinstance(e, Extended) for e in events),
        proxy_bids=proxy_bids,
        events=events,
    )
    return auction, accepted


def pre_bid_phase(auction: Auction, now_ms: int) -> bool:
    """True while a lot with ``pre_bids`` takes pre-bids: scheduled, before its start."""
    return (
        auction.rules.pre_bids
        and auction.status is AuctionStatus.scheduled
        and now_ms < auction.starts_at_ms
    )


def set_proxy(
    auction: Auction, supplier: str, floor: object, now_ms: int
) -> tuple[Auction, tuple[Event, ...]]:
    """Set (or replace) a supplier's proxy floor; on a live auction, proxies answer at once.

    Only ``reverse_english`` (``wrong_format``), only before the close
    (``auction_not_live``), and ``1 <= floor <= ceiling_price`` (``invalid_price``).
    """
    if auction.rules.format is not Format.reverse_english:
        raise WrongFormat(f"A {auction.rules.format} auction has no proxy bidding.")
    if auction.status is not AuctionStatus.scheduled:
        _check_live(auction, now_ms)
    if not isinstance(floor, int) or isinstance(floor, bool):
        raise InvalidPrice("The proxy floor must be a positive integer of minor units.")
    if not 1 <= floor <= auction.ceiling_price:
        raise InvalidPrice(f"The proxy floor must be from 1 to {auction.ceiling_price}.")
    auction = replace(auction, proxies={**auction.proxies, supplier: floor})
    if auction.status is AuctionStatus.scheduled:
        return auction, ()
    return _run_proxies(auction, now_ms)


def clear_proxy(auction: Auction, supplier: str) -> Auction:
    """Remove a supplier's proxy, if it has one; its bids stand."""
    return replace(auction, proxies={s: f for s, f in auction.proxies.items() if s != supplier})


def void_bid(
    auction: Auction, bid_id: str, reason: str, now_ms: int
) -> tuple[Auction, tuple[Event, ...]]:
    """Void a bid (an operator's act, on the record); the ladder is ranked without it.

    Only while live or closed (``illegal_transition``); the bid must exist and not be
    void already (``bid_not_voidable``). The supplier's previous live bid, if any,
    becomes its standing bid again.
    """
    if auction.status not in (AuctionStatus.live, AuctionStatus.closed):
        raise IllegalMove(auction.status.value, "void_bid")
    found = [b for b in auction.bids if b.bid_id == bid_id]
    if not found:
        raise BidNotVoidable(f"There is no bid {bid_id!r} in this auction.")
    if found[0].voided:
        raise BidNotVoidable(f"The bid {bid_id!r} is already void.")
    bids = tuple(
        replace(b, voided=True, void_reason=reason) if b.bid_id == bid_id else b
        for b in auction.bids
    )
    seq = auction.seq + 1
    return replace(auction, bids=bids, seq=seq), (Voided(seq, now_ms, bid_id, reason),)


def ladder(auction: Auction) -> tuple[LadderEntry, ...]:
    """Standing bids best first: by transformed price, then earlier ``seq``; ranks 1..n."""
    standing = sorted(_standings(auction).values(), key=lambda b: (b.transformed, b.seq))
    return tuple(
        LadderEntry(rank, b.bid_id, b.supplier, b.price, b.transformed, b.at_ms)
        for rank, b in enumerate(standing, start=1)
    )


def rank_of(auction: Auction, supplier: str) -> int | None:
    """The supplier's rank, or None if it has no standing bid."""
    for entry in ladder(auction):
        if entry.supplier == supplier:
            return entry.rank
    return None


def best_price(auction: Auction) -> int | None:
    """The leading standing bid's raw price, or None without bids."""
    board = ladder(auction)
    return board[0].price if board else None


def reserve_met(auction: Auction) -> bool:
    """True without a reserve price, or when the leading bid's raw price is at most it."""
    if auction.reserve_price is None:
        return True
    best = best_price(auction)
    return best is not None and best <= auction.reserve_price


def min_acceptable(auction: Auction, supplier: str) -> int | None:
    """The highest price the rules would accept from ``supplier`` now, or None if none.

    Only the price rules count here, not whether the auction is live. With
    ``decrement_from=best`` this reveals the best price, so the I/O layer shows it only
    where the lot's visibility allows.
    """
    return highest_acceptable(auction.rules, situation(auction, supplier))


def situation(auction: Auction, supplier: str) -> Situation:
    """The plain values `bidding.decide.check_bid` needs for this supplier's next bid."""
    standings = _standings(auction)
    own = standings.get(supplier)
    best = min(standings.values(), key=lambda b: (b.transformed, b.seq), default=None)
    return Situation(
        ceiling_price=auction.ceiling_price,
        transform=auction.transforms.get(supplier, Transform()),
        own_price=own.price if own else None,
        best_transformed=best.transformed if best else None,
        taken=frozenset(b.transformed for s, b in standings.items() if s != supplier),
    )


def _move(auction: Auction, move: Move, now_ms: int) -> tuple[Auction, tuple[Event, ...]]:
    status = transition(auction.status, move)
    seq = auction.seq + 1
    event = StatusChanged(EVENT_OF_MOVE[move], seq, now_ms, status, auction.ends_at_ms)
    return replace(auction, status=status, seq=seq), (event,)


def _check_live(auction: Auction, now_ms: int) -> None:
    if auction.status is not AuctionStatus.live:
        raise AuctionNotLive(f"The auction is {auction.status}, not live.")
    if not auction.starts_at_ms <= now_ms < auction.ends_at_ms:
        raise AuctionNotLive("The auction is not open for bids at this time.")


def _standings(auction: Auction) -> dict[str, Bid]:
    standing: dict[str, Bid] = {}
    for bid in auction.bids:
        if not bid.voided:
            standing[bid.supplier] = bid
    return standing


def _record(auction: Auction, bid: Bid) -> tuple[Auction, tuple[Event, ...]]:
    """Append an accepted bid (its ``seq`` is the next one) and apply the soft close
    (not to a pre-bid)."""
    auction = replace(auction, bids=(*auction.bids, bid), seq=bid.seq)
    events: tuple[Event, ...] = (BidPlaced(bid.seq, bid.at_ms, bid),)
    if auction.status is not AuctionStatus.live:
        return auction, events
    rank = rank_of(auction, bid.supplier)
    assert rank is not None
    new_end = extension_end(
        auction.rules.soft_close,
        ends_at_ms=auction.ends_at_ms,
        extensions=auction.extensions,
        now_ms=bid.at_ms,
        rank=rank,
    )
    if new_end is not None:
        seq, extensions = auction.seq + 1, auction.extensions + 1
        auction = replace(auction, ends_at_ms=new_end, extensions=extensions, seq=seq)
        events += (Extended(seq, bid.at_ms, new_end, extensions),)
    return auction, events


def _run_proxies(auction: Auction, now_ms: int) -> tuple[Auction, tuple[Event, ...]]:
    """Proxy rounds until no proxy can take the lead (the module docstring's steps)."""
    events: tuple[Event, ...] = ()
    while True:
        board = ladder(auction)
        if not board or not auction.proxies:
            return auction, events
        leader = board[0].supplier
        contenders = [s for s in sorted(auction.proxies) if s != leader and _lead(auction, s)]
        if not contenders:
            return auction, events
        rivals = [*contenders, leader] if leader in auction.proxies else contenders
        strongest = min(rivals, key=lambda s: (_limit(auction, s), s))
        weaker = sorted(
            (s for s in contenders if s != strongest), key=lambda s: (-_limit(auction, s), s)
        )
        for supplier in weaker:
            span = _lead(auction, supplier)
            if span is not None:
                auction, placed = _proxy_bid(auction, supplier, span[0], now_ms)
                events += placed
        span = _lead(auction, strongest) if strongest in contenders else None
        if span is not None:
            auction, placed = _proxy_bid(auction, strongest, span[1], now_ms)
            events += placed


def _lead(auction: Auction, supplier: str) -> tuple[int, int] | None:
    return lead_range(auction.rules, situation(auction, supplier), auction.proxies[supplier])


def _limit(auction: Auction, supplier: str) -> int:
    """A proxy's transformed floor: the lowest it will go, in ranking terms."""
    return auction.transforms.get(supplier, Transform()).apply(auction.proxies[supplier])


def _proxy_bid(
    auction: Auction, supplier: str, price: int, now_ms: int
) -> tuple[Auction, tuple[Event, ...]]:
    transformed = check_bid(auction.rules, situation(auction, supplier), price)
    seq = auction.seq + 1
    bid_id = f"{auction.auction_id}:p{seq}"
    return _record(auction, Bid(bid_id, supplier, price, transformed, now_ms, seq, proxy=True))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
