"""What each viewer sees: the highest price a supplier may bid now, and why."""

from __future__ import annotations

from typing import Any

from bidding.decide import Transform
from bidding.rules import Decrement, DecrementFrom, Format, LotRules, Ties, Visibility
from bidding.views import Live, Viewer, next_price, view

TEN = Decrement(amount=10)


def _live(
    *,
    status: str = "live",
    fmt: str = "reverse_english",
    vis: str = "rank_only",
    decrement: Decrement = TEN,
    dec_from: str = "own",
) -> Live:
    rules = LotRules(
        format=Format(fmt),
        visibility=Visibility(vis),
        decrement=decrement,
        decrement_from=DecrementFrom(dec_from),
        ties=Ties.earlier_wins,
    )
    return Live(
        id=7,
        status=status,
        rules=rules,
        ceiling_price=1000,
        reserve_price=None,
        starts_ms=0,
        ends_ms=60_000,
        extensions=0,
        seq=3,
        epoch=1,
    )


def _bid(company: str, price: int, rank: int, multiplier_bps: int = 10_000) -> dict[str, Any]:
    transform = Transform(multiplier_bps=multiplier_bps)
    return {
        "company": company,
        "price": price,
        "t": transform.apply(price),
        "rank": rank,
        "bid_id": f"b{company}",
        "at": 1,
    }


def test_first_bid_is_bounded_by_the_ceiling() -> None:
    """Without a bid of its own, a supplier may bid up to the ceiling."""
    assert next_price(_live(), [_bid("2", 900, 1)], None, Transform()) == (1000, "ceiling")


def test_own_decrement_bounds_the_next_bid() -> None:
    """With decrement_from=own, the next bid is the supplier's own minus the decrement."""
    standings = [_bid("2", 900, 1), _bid("1", 950, 2)]
    assert next_price(_live(), standings, standings[1], Transform()) == (940, "own")


def test_basis_point_decrements_round_up() -> None:
    """A bps decrement of the own price is rounded up to a whole minor unit."""
    mine = _bid("1", 999, 1)
    meta = _live(decrement=Decrement(bps=50))
    assert next_price(meta, [mine], mine, Transform()) == (999 - 5, "own")


def test_best_decrement_is_shown_only_where_the_best_price_is() -> None:
    """decrement_from=best reveals the best price, so rank_only and sealed lots hide it."""
    standings = [_bid("2", 900, 1), _bid("1", 950, 2)]
    shown = _live(dec_from="best", vis="best_price")
    assert next_price(shown, standings, standings[1], Transform()) == (890, "best")
    hidden = _live(dec_from="best", vis="rank_only")
    assert next_price(hidden, standings, standings[1], Transform()) == (None, "hidden")
    assert next_price(hidden, standings, standings[0], Transform()) == (890, "best")


def test_a_transform_works_in_the_suppliers_own_raw_terms() -> None:
    """With a multiplier, the bound from the best bid is in the bidder's raw price."""
    standings = [_bid("2", 900, 1)]
    meta = _live(dec_from="best", vis="best_price")
    # 900 ranks as 900 * 10000; this supplier's price ranks at 1.2x, so it must bid
    # at most 750 - 10 raw to undercut.
    assert next_price(meta, standings, None, Transform(multiplier_bps=12_000)) == (740, "best")


def test_closed_and_clock_auctions_take_no_price() -> None:
    """Outside a live or scheduled priced auction there is nothing to bid."""
    assert next_price(_live(status="closed"), [], None, Transform()) == (None, "not_open")
    assert next_price(_live(fmt="japanese"), [], None, Transform()) == (None, "not_open")


def test_supplier_view_carries_the_bound_and_the_buyer_view_does_not() -> None:
    """The supplier's state has min_acceptable and its reason; the buyer's has neither."""
    standings = [_bid("2", 900, 1), _bid("1", 950, 2)]
    supplier = view(_live(), standings, Viewer(False, 1), {}, now_ms=0)
    assert (supplier["min_acceptable"], supplier["min_acceptable_reason"]) == (940, "own")
    assert "min_acceptable" not in view(_live(), standings, Viewer(True), {}, now_ms=0)


def test_a_closed_sealed_lot_shows_suppliers_what_its_visibility_says() -> None:
    """Before the close a sealed lot shows a supplier nothing of others; after a normal
    close its own visibility applies (rank_only: the rank, no rival price); a cancelled
    one stays sealed."""
    standings = [_bid("2", 900, 1), _bid("1", 950, 2)]
    me = Viewer(False, 1)
    live = view(_live(fmt="sealed"), standings, me, {}, now_ms=0)
    assert (live["my_rank"], live["bidders"], "best_price" in live) == (None, None, False)
    closed = view(_live(fmt="sealed", status="closed"), standings, me, {}, now_ms=0)
    assert closed["my_rank"] == 2 and "best_price" not in closed and "ladder" not in closed
    shown = view(_live(fmt="sealed", vis="best_price", status="closed"), standings, me, {}, 0)
    assert shown["best_price"] == 900 and "ladder" not in shown
    cancelled = view(_live(fmt="sealed", status="cancelled"), standings, me, {}, now_ms=0)
    assert cancelled["my_rank"] is None and "best_price" not in cancelled
