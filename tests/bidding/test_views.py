"""What each viewer sees: the highest price a supplier may bid now, and why."""

from __future__ import annotations

from typing import Any

from bidding.decide import Transform
from bidding.views import Viewer, next_price, view


def _meta(**overrides: str) -> dict[str, str]:
    meta = {
        "id": "7",
        "status": "live",
        "fmt": "reverse_english",
        "vis": "rank_only",
        "starts": "0",
        "ends": "60000",
        "ext": "0",
        "seq": "3",
        "epoch": "1",
        "ceiling": "1000",
        "reserve": "",
        "dec_amt": "10",
        "dec_bps": "",
        "dec_from": "own",
        "ties": "earlier_wins",
    }
    meta.update(overrides)
    return meta


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
    assert next_price(_meta(), [_bid("2", 900, 1)], None, Transform()) == (1000, "ceiling")


def test_own_decrement_bounds_the_next_bid() -> None:
    """With decrement_from=own, the next bid is the supplier's own minus the decrement."""
    standings = [_bid("2", 900, 1), _bid("1", 950, 2)]
    assert next_price(_meta(), standings, standings[1], Transform()) == (940, "own")


def test_basis_point_decrements_round_up() -> None:
    """A bps decrement of the own price is rounded up to a whole minor unit."""
    mine = _bid("1", 999, 1)
    meta = _meta(dec_amt="", dec_bps="50")
    assert next_price(meta, [mine], mine, Transform()) == (999 - 5, "own")


def test_best_decrement_is_shown_only_where_the_best_price_is() -> None:
    """decrement_from=best reveals the best price, so rank_only and sealed lots hide it."""
    standings = [_bid("2", 900, 1), _bid("1", 950, 2)]
    shown = _meta(dec_from="best", vis="best_price")
    assert next_price(shown, standings, standings[1], Transform()) == (890, "best")
    hidden = _meta(dec_from="best", vis="rank_only")
    assert next_price(hidden, standings, standings[1], Transform()) == (None, "hidden")
    assert next_price(hidden, standings, standings[0], Transform()) == (890, "best")


def test_a_transform_works_in_the_suppliers_own_raw_terms() -> None:
    """With a multiplier, the bound from the best bid is in the bidder's raw price."""
    standings = [_bid("2", 900, 1)]
    meta = _meta(dec_from="best", vis="best_price")
    # 900 ranks as 900 * 10000; this supplier's price ranks at 1.2x, so it must bid
    # at most 750 - 10 raw to undercut.
    assert next_price(meta, standings, None, Transform(multiplier_bps=12_000)) == (740, "best")


def test_closed_and_clock_auctions_take_no_price() -> None:
    """Outside a live or scheduled priced auction there is nothing to bid."""
    assert next_price(_meta(status="closed"), [], None, Transform()) == (None, "not_open")
    assert next_price(_meta(fmt="japanese"), [], None, Transform()) == (None, "not_open")


def test_supplier_view_carries_the_bound_and_the_buyer_view_does_not() -> None:
    """The supplier's state has min_acceptable and its reason; the buyer's has neither."""
    standings = [_bid("2", 900, 1), _bid("1", 950, 2)]
    supplier = view(_meta(), standings, Viewer(False, 1), {})
    assert (supplier["min_acceptable"], supplier["min_acceptable_reason"]) == (940, "own")
    assert "min_acceptable" not in view(_meta(), standings, Viewer(True), {})
