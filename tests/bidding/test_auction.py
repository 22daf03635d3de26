"""Tests for bidding/auction.py: lifecycle, bids, ladder, soft close, voids, proxies."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bidding import auction as A
from bidding.auction import Auction, AuctionStatus, BidPlaced, Extended, Move
from bidding.decide import Situation, Transform, check_bid, highest_acceptable
from bidding.errors import (
    AboveCeiling,
    AuctionNotLive,
    BelowDecrement,
    BidNotVoidable,
    BidRejected,
    IllegalMove,
    InvalidPrice,
    InvalidRules,
    TieNotAllowed,
    WrongFormat,
)
from bidding.rules import (
    Decrement,
    DecrementFrom,
    Format,
    LotRules,
    SoftClose,
    Ties,
    Trigger,
    Visibility,
)
from bidding.sealed import verify_commitment

RULES = LotRules(Format.reverse_english, decrement=Decrement(amount=1))
SEALED = LotRules(Format.sealed, decrement=Decrement(amount=1))
START, END = 1_000, 601_000


def _live(rules: LotRules = RULES, **kwargs: object) -> Auction:
    """A live auction from START to END with a ceiling of 120, unless kwargs say otherwise."""
    args: dict[str, object] = {"ceiling_price": 120, "starts_at_ms": START, "ends_at_ms": END}
    args.update(kwargs)
    auction = A.new_auction("a1", rules, **args)  # type: ignore[arg-type]
    return A.open_auction(auction, START)[0]


def _bid(auction: Auction, supplier: str, price: int, now_ms: int = START) -> Auction:
    return A.place_bid(auction, supplier, price, now_ms, f"{supplier}-{price}-{now_ms}")[0]


def _ladder(auction: Auction) -> list[tuple[str, int]]:
    return [(e.supplier, e.price) for e in A.ladder(auction)]


# Lifecycle


@pytest.mark.parametrize(
    ("status", "move", "after"),
    [
        (AuctionStatus.scheduled, Move.open, AuctionStatus.live),
        (AuctionStatus.scheduled, Move.cancel, AuctionStatus.cancelled),
        (AuctionStatus.live, Move.close, AuctionStatus.closed),
        (AuctionStatus.live, Move.cancel, AuctionStatus.cancelled),
        (AuctionStatus.closed, Move.award, AuctionStatus.awarded),
        (AuctionStatus.closed, Move.no_award, AuctionStatus.no_award),
    ],
)
def test_legal_transitions(status: AuctionStatus, move: Move, after: AuctionStatus) -> None:
    """Each move in the table leads to its status."""
    assert A.transition(status, move) is after


def test_every_other_transition_is_illegal() -> None:
    """Moves outside the table raise illegal_transition naming the state and the move."""
    legal = {
        (AuctionStatus.scheduled, Move.open),
        (AuctionStatus.scheduled, Move.cancel),
        (AuctionStatus.live, Move.close),
        (AuctionStatus.live, Move.cancel),
        (AuctionStatus.closed, Move.award),
        (AuctionStatus.closed, Move.no_award),
    }
    for status in AuctionStatus:
        for move in Move:
            if (status, move) in legal:
                continue
            with pytest.raises(IllegalMove) as caught:
                A.transition(status, move)
            assert status.value in caught.value.message and move.value in caught.value.message


def test_open_and_close_wait_for_their_times() -> None:
    """The auction cannot open before starts_at nor close before ends_at."""
    auction = A.new_auction("a1", RULES, ceiling_price=120, starts_at_ms=START, ends_at_ms=END)
    with pytest.raises(IllegalMove):
        A.open_auction(auction, START - 1)
    auction = A.open_auction(auction, START)[0]
    with pytest.raises(IllegalMove):
        A.close_auction(auction, END - 1)
    assert A.close_auction(auction, END)[0].status is AuctionStatus.closed


def test_tick_opens_and_closes_on_time() -> None:
    """tick does nothing early, opens at starts_at and closes at ends_at, with events."""
    auction = A.new_auction("a1", RULES, ceiling_price=120, starts_at_ms=START, ends_at_ms=END)
    assert A.tick(auction, START - 1) == (auction, ())
    auction, events = A.tick(auction, END)
    assert [(e.type, e.seq) for e in events] == [("opened", 1), ("closed", 2)]
    assert auction.status is AuctionStatus.closed and auction.seq == 2


def test_settle_and_cancel() -> None:
    """A closed auction is awarded or not; a live one can be cancelled; each is an event."""
    closed = A.close_auction(_live(), END)[0]
    awarded, events = A.settle(closed, awarded=True, now_ms=END)
    assert awarded.status is AuctionStatus.awarded and events[0].type == "awarded"
    declined, events = A.settle(closed, awarded=False, now_ms=END)
    assert declined.status is AuctionStatus.no_award and events[0].type == "no_award"
    cancelled, events = A.cancel_auction(_live(), START)
    assert cancelled.status is AuctionStatus.cancelled and events[0].type == "cancelled"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rules": LotRules(Format.dutch)}, "rules.format"),
        ({"rules": LotRules(Format.reverse_english)}, "rules.decrement"),
        ({"ceiling_price": 0}, "ceiling_price"),
        ({"reserve_price": 0}, "reserve_price"),
        ({"ends_at_ms": START}, "ends_at"),
        ({"transforms": {"s1": Transform(0)}}, "transforms.s1.multiplier_bps"),
    ],
)
def test_new_auction_validates(kwargs: dict[str, object], field: str) -> None:
    """new_auction refuses clock formats, bad prices, times and transforms, naming the field."""
    args: dict[str, object] = {
        "rules": RULES,
        "ceiling_price": 120,
        "starts_at_ms": START,
        "ends_at_ms": END,
    }
    args.update(kwargs)
    with pytest.raises(InvalidRules) as caught:
        A.new_auction("a1", **args)  # type: ignore[arg-type]
    assert caught.value.field == field


# Bids


def test_bids_outside_the_live_window_are_not_live() -> None:
    """Bids before the open, at ends_at or after the close are auction_not_live."""
    scheduled = A.new_auction("a1", RULES, ceiling_price=120, starts_at_ms=START, ends_at_ms=END)
    live = _live()
    closed = A.close_auction(live, END)[0]
    for auction, now in [(scheduled, START), (live, START - 1), (live, END), (closed, END)]:
        with pytest.raises(AuctionNotLive):
            A.place_bid(auction, "s1", 100, now, "b1")


def test_pre_bids_are_blind_and_start_the_ladder() -> None:
    """Before the opening a pre-bid lot takes bids checked against the ceiling and the
    bidder's own pre-bid only: no rank, no rival's price, no soft close; at the opening
    they are the ladder."""
    rules = replace(
        RULES,
        decrement_from=DecrementFrom.best,
        visibility=Visibility.best_price,
        soft_close=SoftClose(window_s=900, extend_s=900),
        pre_bids=True,
    )
    a = A.new_auction("a1", rules, ceiling_price=120, starts_at_ms=START, ends_at_ms=END)
    a, first = A.place_bid(a, "s1", 100, START - 50, "b1")
    assert first.rank is None and not first.extended and a.ends_at_ms == END
    a, second = A.place_bid(a, "s2", 110, START - 40, "b2")  # above s1: blind, so taken
    assert second.rank is None
    with pytest.raises(BelowDecrement):
        A.place_bid(a, "s1", 100, START - 30, "b3")  # its own pre-bid still binds it
    with pytest.raises(AuctionNotLive):
        A.place_bid(a, "s3", 90, START, "b4")  # at the start, before the opening tick
    a, _ = A.open_auction(a, START)
    assert _ladder(a) == [("s1", 100), ("s2", 110)]
    with pytest.raises(BelowDecrement):
        A.place_bid(a, "s2", 105, START + 1, "b5")  # live: decrement from the best again
    plain = A.new_auction("a2", RULES, ceiling_price=120, starts_at_ms=START, ends_at_ms=END)
    with pytest.raises(AuctionNotLive):
        A.place_bid(plain, "s1", 100, START - 50, "b6")


def test_a_bid_above_the_ceiling_is_rejected() -> None:
    """A bid above the ceiling is rejected with code above_ceiling and the ceiling as minimum."""
    with pytest.raises(AboveCeiling) as caught:
        A.place_bid(_live(), "s1", 121, START, "b1")
    assert (caught.value.code, caught.value.min_acceptable) == ("above_ceiling", 120)


def test_a_float_price_is_invalid() -> None:
    """A float price is invalid_price, even a whole one."""
    with pytest.raises(InvalidPrice):
        A.place_bid(_live(), "s1", 100.0, START, "b1")


def test_accepted_bid_reports_rank_and_event() -> None:
    """An accepted bid returns the bid, its rank and one bid event with the next seq."""
    auction, accepted = A.place_bid(_live(), "s1", 100, START + 5, "b1")
    assert accepted.bid == A.Bid("b1", "s1", 100, 1_000_000, START + 5, 2)
    assert accepted.rank == 1 and not accepted.extended and accepted.ends_at_ms == END
    assert accepted.events == (BidPlaced(2, START + 5, accepted.bid),)
    assert auction.seq == 2


def test_a_supplier_cannot_raise_or_repeat_its_price() -> None:
    """Re-bidding the same or a higher price is below_decrement."""
    auction = _bid(_live(), "s1", 100)
    for price in (100, 101):
        with pytest.raises(BelowDecrement):
            A.place_bid(auction, "s1", price, START, "b2")


def test_ladder_has_one_entry_per_supplier_best_first() -> None:
    """The ladder lists each supplier's standing bid, lowest first, ranks 1..n."""
    auction = _bid(_bid(_bid(_bid(_live(), "s1", 100), "s2", 90), "s1", 80), "s3", 95)
    assert _ladder(auction) == [("s1", 80), ("s2", 90), ("s3", 95)]
    assert [e.rank for e in A.ladder(auction)] == [1, 2, 3]
    assert A.rank_of(auction, "s3") == 3 and A.rank_of(auction, "s4") is None
    assert A.best_price(auction) == 80


def test_equal_prices_rank_the_earlier_bid_first() -> None:
    """With ties=earlier_wins an equal price is accepted and ranks after the earlier bid."""
    auction = _bid(_bid(_live(), "s1", 90), "s2", 90)
    assert _ladder(auction) == [("s1", 90), ("s2", 90)]


def test_equal_prices_are_rejected_when_ties_are() -> None:
    """With ties=rejected an equal price is tie_not_allowed."""
    auction = _bid(_live(replace(RULES, ties=Ties.rejected)), "s1", 90)
    with pytest.raises(TieNotAllowed) as caught:
        A.place_bid(auction, "s2", 90, START, "b2")
    assert caught.value.min_acceptable == 120


def test_decrement_from_best_makes_every_bid_beat_the_leader() -> None:
    """With decrement_from=best even a first bid must undercut the best by the decrement."""
    rules = replace(RULES, decrement=Decrement(amount=5), decrement_from=DecrementFrom.best)
    auction = _bid(_live(rules), "s1", 100)
    with pytest.raises(BelowDecrement) as caught:
        A.place_bid(auction, "s2", 96, START, "b2")
    assert caught.value.min_acceptable == 95 == A.min_acceptable(auction, "s2")


def test_transforms_rank_by_transformed_price_and_keep_raw_prices() -> None:
    """A 0.8x multiplier ranks 110 (88 transformed) ahead of a plain 90."""
    auction = _live(transforms={"s2": Transform(8_000)})
    auction = _bid(_bid(auction, "s1", 90), "s2", 110)
    assert _ladder(auction) == [("s2", 110), ("s1", 90)]
    assert A.ladder(auction)[0].transformed == 880_000


def test_reserve_met_follows_the_leading_price() -> None:
    """The reserve is met once the leading bid's raw price is at or below it."""
    auction = _live(reserve_price=95)
    assert not A.reserve_met(auction)
    auction = _bid(auction, "s1", 100)
    assert not A.reserve_met(auction)
    assert A.reserve_met(_bid(auction, "s2", 95))
    assert A.reserve_met(_live())


# Soft close

SOFT = replace(RULES, soft_close=SoftClose(window_s=60, extend_s=120, max_extensions=2))


def test_a_bid_in_the_window_extends_to_now_plus_extend() -> None:
    """A bid in the last window_s moves ends_at to now + extend_s, with an event."""
    now = END - 30_000
    auction, accepted = A.place_bid(_live(SOFT), "s1", 100, now, "b1")
    assert accepted.extended and accepted.ends_at_ms == now + 120_000 == auction.ends_at_ms
    assert accepted.events[1] == Extended(3, now, now + 120_000, 1)
    assert auction.extensions == 1 and auction.seq == 3


def test_a_bid_before_the_window_does_not_extend() -> None:
    """A bid before the window leaves ends_at alone."""
    _, accepted = A.place_bid(_live(SOFT), "s1", 100, END - 60_001, "b1")
    assert not accepted.extended and accepted.ends_at_ms == END


def test_extensions_stop_at_max_extensions() -> None:
    """After max_extensions, bids in the window no longer extend."""
    auction = _live(SOFT)
    for price in (100, 99, 98):
        auction = _bid(auction, "s1", price, auction.ends_at_ms - 1_000)
    assert auction.extensions == 2
    assert auction.ends_at_ms == END - 1_000 + 120_000 - 1_000 + 120_000


def test_leader_trigger_ignores_bids_that_do_not_lead() -> None:
    """With trigger=leader only a bid that takes first place extends."""
    rules = replace(RULES, soft_close=SoftClose(60, 120, Trigger.leader))
    auction = _bid(_live(rules), "s1", 90)
    _, accepted = A.place_bid(auction, "s2", 95, END - 1_000, "b2")
    assert not accepted.extended
    _, accepted = A.place_bid(auction, "s2", 85, END - 1_000, "b2")
    assert accepted.extended


def test_close_is_refused_while_an_extension_runs() -> None:
    """A close at the old ends_at is refused after an extension moved it."""
    auction = _bid(_live(SOFT), "s1", 100, END - 1_000)
    with pytest.raises(IllegalMove):
        A.close_auction(auction, END)
    assert A.tick(auction, END)[0].status is AuctionStatus.live


# Voids


def test_void_removes_a_bid_from_the_ladder_and_restores_the_previous_one() -> None:
    """Voiding a supplier's latest bid makes its previous live bid stand again."""
    auction = _bid(_bid(_bid(_live(), "s1", 100), "s2", 95), "s1", 90)
    bid_id = auction.bids[-1].bid_id
    auction, events = A.void_bid(auction, bid_id, "fat finger", START + 1)
    assert events == (A.Voided(5, START + 1, bid_id, "fat finger"),)
    assert _ladder(auction) == [("s2", 95), ("s1", 100)]
    assert auction.bids[-1].voided and auction.bids[-1].void_reason == "fat finger"


def test_void_twice_or_unknown_is_not_voidable() -> None:
    """Voiding an unknown or already void bid raises bid_not_voidable."""
    auction = _bid(_live(), "s1", 100)
    auction = A.void_bid(auction, auction.bids[0].bid_id, "x", START)[0]
    for bid_id in (auction.bids[0].bid_id, "nope"):
        with pytest.raises(BidNotVoidable):
            A.void_bid(auction, bid_id, "x", START)


def test_void_is_refused_once_settled() -> None:
    """An awarded auction's bids cannot be voided."""
    auction = _bid(_live(), "s1", 100)
    auction = A.settle(A.close_auction(auction, END)[0], awarded=True, now_ms=END)[0]
    with pytest.raises(IllegalMove):
        A.void_bid(auction, auction.bids[0].bid_id, "x", END)


# Sealed


def test_sealed_bids_carry_a_commitment_and_no_rank() -> None:
    """A sealed bid's commitment verifies and its rank stays hidden."""
    auction, accepted = A.place_bid(_live(SEALED), "s1", 100, START, "b1", nonce="n1")
    assert accepted.rank is None
    assert accepted.bid.commitment is not None
    assert verify_commitment(accepted.bid.commitment, "a1", "s1", 100, "n1")
    _, again = A.place_bid(auction, "s1", 99, START, "b2", nonce="n2")
    assert again.bid.price == 99


def test_sealed_bids_need_a_nonce() -> None:
    """A sealed bid without a nonce is a programming error."""
    with pytest.raises(ValueError):
        A.place_bid(_live(SEALED), "s1", 100, START, "b1")


def test_sealed_auctions_have_no_proxies() -> None:
    """Setting a proxy in a sealed auction is wrong_format."""
    with pytest.raises(WrongFormat):
        A.set_proxy(_live(SEALED), "s1", 50, START)


# Proxies


def test_a_proxy_answers_with_the_smallest_step() -> None:
    """A proxy retakes the lead one decrement below a competitor's bid."""
    auction = A.set_proxy(_live(), "p", 50, START)[0]
    auction, accepted = A.place_bid(auction, "s1", 100, START, "b1")
    assert [(b.supplier, b.price, b.proxy) for b in accepted.proxy_bids] == [("p", 99, True)]
    assert accepted.rank == 2
    assert _ladder(auction) == [("p", 99), ("s1", 100)]


def test_a_proxy_never_bids_below_its_floor() -> None:
    """A competitor under the floor is left to lead."""
    auction = A.set_proxy(_live(), "p", 50, START)[0]
    auction = _bid(_bid(auction, "s1", 60), "s1", 50)
    assert _ladder(auction) == [("s1", 50), ("p", 59)]


def test_two_proxies_settle_in_a_few_bids() -> None:
    """Two proxies end with the lower floor leading one step below the other's floor."""
    auction = A.set_proxy(A.set_proxy(_live(), "p", 50, START)[0], "q", 60, START)[0]
    auction, accepted = A.place_bid(auction, "s1", 120, START, "b1")
    assert [(b.supplier, b.price) for b in accepted.proxy_bids] == [("q", 60), ("p", 59)]
    assert [e.seq for e in accepted.events] == [2, 3, 4]


def test_setting_a_proxy_on_a_live_auction_bids_at_once() -> None:
    """A proxy set behind the leader bids straight away."""
    auction = _bid(_live(), "s1", 100)
    auction, events = A.set_proxy(auction, "p", 70, START)
    assert [(e.bid.supplier, e.bid.price) for e in events if isinstance(e, BidPlaced)] == [
        ("p", 99)
    ]


def test_proxy_floors_are_checked() -> None:
    """A proxy floor must be an int from 1 to the ceiling, set before the close."""
    for floor in (0, 121, 50.0):
        with pytest.raises(InvalidPrice):
            A.set_proxy(_live(), "p", floor, START)
    with pytest.raises(AuctionNotLive):
        A.set_proxy(A.close_auction(_live(), END)[0], "p", 50, END)


def test_clear_proxy_stops_answers() -> None:
    """After clear_proxy the supplier no longer answers competitors."""
    auction = A.clear_proxy(A.set_proxy(_live(), "p", 50, START)[0], "p")
    _, accepted = A.place_bid(auction, "s1", 100, START, "b1")
    assert accepted.proxy_bids == ()


# A stateful test against a brute-force model

SUPPLIERS = ("s1", "s2", "s3", "s4")


@dataclass
class _ModelBid:
    bid_id: str
    supplier: str
    price: int
    transformed: int
    seq: int
    voided: bool = False


@dataclass
class _Model:
    """Bids kept as a plain list; everything else recomputed from it on demand."""

    rules: LotRules
    ceiling: int
    transforms: dict[str, Transform]
    starts: int
    ends: int
    status: AuctionStatus = AuctionStatus.scheduled
    seq: int = 0
    extensions: int = 0
    bids: list[_ModelBid] = field(default_factory=list)
    proxies: dict[str, int] = field(default_factory=dict)

    def standing(self) -> dict[str, _ModelBid]:
        live = [b for b in self.bids if not b.voided]
        return {s: [b for b in live if b.supplier == s][-1] for s in {b.supplier for b in live}}

    def board(self) -> list[_ModelBid]:
        return sorted(self.standing().values(), key=lambda b: (b.transformed, b.seq))

    def situation(self, supplier: str) -> Situation:
        standing = self.standing()
        own = standing.get(supplier)
        board = self.board()
        return Situation(
            self.ceiling,
            self.transforms.get(supplier, Transform()),
            own.price if own else None,
            board[0].transformed if board else None,
            frozenset(b.transformed for s, b in standing.items() if s != supplier),
        )

    def open_for_bids(self, now: int) -> bool:
        return self.status is AuctionStatus.live and self.starts <= now < self.ends

    def expected_end(self, now: int, supplier: str) -> int | None:
        sc = self.rules.soft_close
        if sc is None or now < self.ends - sc.window_s * 1000:
            return None
        if sc.max_extensions is not None and self.extensions >= sc.max_extensions:
            return None
        rank = [b.supplier for b in self.board()].index(supplier) + 1
        if (sc.trigger is Trigger.leader and rank > 1) or (
            sc.trigger is Trigger.top_n and rank > (sc.top_n or 0)
        ):
            return None
        new_end = now + sc.extend_s * 1000
        return new_end if new_end > self.ends else None

    def can_lead(self, supplier: str) -> bool:
        """Brute force: some price >= the proxy floor passes the rules and leads."""
        s = self.situation(supplier)
        board = self.board()
        if not board or board[0].supplier == supplier:
            return False
        for price in range(self.proxies[supplier], self.ceiling + 1):
            try:
                if check_bid(self.rules, s, price) < board[0].transformed:
                    return True
            except BidRejected:
                pass
        return False


@st.composite
def _auction_setups(draw: st.DrawFn) -> _Model:
    fmt = draw(st.sampled_from([Format.reverse_english, Format.sealed]))
    ceiling = draw(st.integers(20, 200))
    decrement = draw(
        st.builds(Decrement, amount=st.integers(1, 5))
        | st.builds(Decrement, bps=st.integers(1, 2000))
    )
    rules = LotRules(fmt, decrement=decrement)
    if fmt is Format.reverse_english:
        trigger = draw(st.sampled_from(Trigger))
        soft_close = draw(
            st.none()
            | st.builds(
                SoftClose,
                window_s=st.integers(1, 20),
                extend_s=st.integers(1, 40),
                trigger=st.just(trigger),
                top_n=st.integers(1, 3) if trigger is Trigger.top_n else st.none(),
                max_extensions=st.none() | st.integers(1, 3),
            )
        )
        rules = replace(
            rules,
            decrement_from=draw(st.sampled_from(DecrementFrom)),
            ties=draw(st.sampled_from(Ties)),
            soft_close=soft_close,
        )
    transform = st.just(Transform()) | st.builds(
        Transform, st.integers(5_000, 20_000), st.integers(-20, 20)
    )
    transforms = {s: draw(transform) for s in SUPPLIERS}
    return _Model(rules, ceiling, transforms, 1_000, 1_000 + draw(st.integers(5_000, 30_000)))


_time_steps = st.integers(0, 9).flatmap(
    lambda k: st.integers(0, 60_000) if k == 0 else st.integers(0, 4_000)
)
"""Mostly small steps of time, sometimes a jump past the end."""


class AuctionMachine(RuleBasedStateMachine):
    """Random operations on one auction, checked step by step against `_Model`."""

    auction: Auction
    model: _Model

    @initialize(model=_auction_setups())
    def setup(self, model: _Model) -> None:
        self.model = model
        self.auction = A.new_auction(
            "a1",
            model.rules,
            ceiling_price=model.ceiling,
            starts_at_ms=model.starts,
            ends_at_ms=model.ends,
            transforms=model.transforms,
        )
        self.now = model.starts
        self.events: list[A.Event] = []
        self.best: int | None = None
        self.auction, events = A.tick(self.auction, self.now)
        model.status, model.seq = AuctionStatus.live, 1
        self._take(events)

    def _take(self, events: tuple[A.Event, ...]) -> None:
        self.events.extend(events)

    @rule(dt=_time_steps)
    def advance(self, dt: int) -> None:
        self.now += dt
        self.auction, events = A.tick(self.auction, self.now)
        self._take(events)
        m = self.model
        expected: list[str] = []
        if m.status is AuctionStatus.scheduled and self.now >= m.starts:
            m.status, m.seq = AuctionStatus.live, m.seq + 1
            expected.append("opened")
        if m.status is AuctionStatus.live and self.now >= m.ends:
            m.status, m.seq = AuctionStatus.closed, m.seq + 1
            expected.append("closed")
        assert [e.type for e in events] == expected

    @rule(before=st.integers(0, 20_000))
    def advance_near_the_end(self, before: int) -> None:
        self.advance(max(0, self.model.ends - before - self.now))

    @rule(supplier=st.sampled_from(SUPPLIERS), data=st.data())
    def bid_near_the_limit(self, supplier: str, data: st.DataObject) -> None:
        m = self.model
        near = highest_acceptable(m.rules, m.situation(supplier)) or 1
        self.bid(supplier, data.draw(st.integers(near - 2, near + 1)))

    @rule(supplier=st.sampled_from(SUPPLIERS), price=st.integers(-1, 210))
    def bid(self, supplier: str, price: int) -> None:
        m = self.model
        bid_id = f"b{len(self.events)}"
        try:
            self.auction, accepted = A.place_bid(
                self.auction, supplier, price, self.now, bid_id, nonce="n"
            )
        except BidRejected as err:
            if not m.open_for_bids(self.now):
                assert err.code == "auction_not_live"
                return
            with pytest.raises(BidRejected) as expected:
                check_bid(m.rules, m.situation(supplier), price)
            assert err.code == expected.value.code
            assert err.min_acceptable == highest_acceptable(m.rules, m.situation(supplier))
            return
        assert m.open_for_bids(self.now)
        transformed = check_bid(m.rules, m.situation(supplier), price)
        self._apply_bids(accepted.events, first=(supplier, price, transformed))
        if m.rules.format is Format.sealed:
            assert accepted.rank is None and accepted.bid.commitment is not None
            assert verify_commitment(accepted.bid.commitment, "a1", supplier, price, "n")
        else:
            assert accepted.rank == [b.supplier for b in m.board()].index(supplier) + 1
        self._take(accepted.events)

    @rule(supplier=st.sampled_from(SUPPLIERS), floor=st.integers(1, 200))
    def set_proxy(self, supplier: str, floor: int) -> None:
        m = self.model
        try:
            self.auction, events = A.set_proxy(self.auction, supplier, floor, self.now)
        except BidRejected as err:
            if m.rules.format is Format.sealed:
                assert err.code == "wrong_format"
            elif m.status is not AuctionStatus.scheduled and not m.open_for_bids(self.now):
                assert err.code == "auction_not_live"
            else:
                assert err.code == "invalid_price" and floor > m.ceiling
            return
        m.proxies[supplier] = floor
        self._apply_bids(events, first=None)
        self._take(events)

    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        m = self.model
        live = [b for b in m.bids if not b.voided]
        if not live:
            return
        target = data.draw(st.sampled_from(live))
        try:
            self.auction, events = A.void_bid(self.auction, target.bid_id, "test", self.now)
        except IllegalMove:
            assert m.status not in (AuctionStatus.live, AuctionStatus.closed)
            return
        target.voided = True
        m.seq += 1
        assert [(e.type, e.seq) for e in events] == [("voided", m.seq)]
        self.best = None
        self._take(events)

    def _apply_bids(self, events: tuple[A.Event, ...], first: tuple[str, int, int] | None) -> None:
        """Replay the engine's bid and extension events on the model, checking each."""
        m = self.model
        queue = list(events)
        while queue:
            event = queue.pop(0)
            assert isinstance(event, BidPlaced) and event.at_ms == self.now
            bid = event.bid
            if first is not None:
                assert (bid.supplier, bid.price, bid.transformed, bid.proxy) == (*first, False)
                first = None
            else:
                assert bid.proxy and bid.supplier in m.proxies
                assert bid.price >= m.proxies[bid.supplier]
                assert check_bid(m.rules, m.situation(bid.supplier), bid.price) == bid.transformed
                assert bid.transformed < m.board()[0].transformed
            m.seq += 1
            assert bid.seq == m.seq
            m.bids.append(_ModelBid(bid.bid_id, bid.supplier, bid.price, bid.transformed, m.seq))
            new_end = m.expected_end(self.now, bid.supplier)
            if new_end is not None:
                m.seq, m.ends, m.extensions = m.seq + 1, new_end, m.extensions + 1
                assert queue.pop(0) == Extended(m.seq, self.now, new_end, m.extensions)
        assert first is None or not events
        proxy_bids = sum(1 for e in events if isinstance(e, BidPlaced) and e.bid.proxy)
        assert proxy_bids <= 2 * len(m.proxies)
        if m.open_for_bids(self.now) and m.rules.format is Format.reverse_english:
            assert not any(m.can_lead(s) for s in m.proxies)

    @invariant()
    def matches_the_model(self) -> None:
        if not hasattr(self, "model"):
            return
        m, a = self.model, self.auction
        assert (a.status, a.seq, a.ends_at_ms, a.extensions) == (
            m.status,
            m.seq,
            m.ends,
            m.extensions,
        )
        board = m.board()
        assert [(e.rank, e.bid_id, e.price) for e in A.ladder(a)] == [
            (i, b.bid_id, b.price) for i, b in enumerate(board, start=1)
        ]
        assert len({e.supplier for e in A.ladder(a)}) == len(board)
        assert [e.seq for e in self.events] == list(range(1, m.seq + 1))
        assert all(b.price <= m.ceiling for b in a.bids)

    @invariant()
    def best_price_never_rises_between_voids(self) -> None:
        if not hasattr(self, "model"):
            return
        board = A.ladder(self.auction)
        best = board[0].transformed if board else None
        if self.best is not None:
            assert best is not None and best <= self.best
        self.best = best


TestAuctionMachine = AuctionMachine.TestCase
TestAuctionMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestAuctionMachine.__doc__ = "Random auctions keep ladder, seq, extensions and proxies true."
