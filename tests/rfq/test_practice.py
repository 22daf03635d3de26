"""The simulated rivals' moves (pure: from the state a supplier sees)."""

from __future__ import annotations

import random

from rfq.practice import CEILING, STEP, limit_for, rival_move


def _state(**kw: object) -> dict[str, object]:
    return {"state": "live", "format": "reverse_english", "ceiling_price": CEILING, **kw}


def test_a_reverse_rival_undercuts_unless_it_leads_or_reaches_its_limit() -> None:
    rng = random.Random(1)
    for _ in range(50):
        price = rival_move(_state(min_acceptable=11_000, my_rank=2), 9_500, rng)
        assert price is not None and 11_000 - 3 * STEP <= price <= 11_000
        assert (11_000 - price) % STEP == 0
    assert rival_move(_state(min_acceptable=11_000, my_rank=1), 9_500, rng) is None
    assert rival_move(_state(min_acceptable=9_400, my_rank=3), 9_500, rng) is None
    assert rival_move(_state(min_acceptable=None, my_rank=None), 9_500, rng) is None
    under = rival_move(_state(min_acceptable=12_000, my_rank=None, best_price=10_000), 9_500, rng)
    assert under is not None and under <= 10_000 - STEP  # below the best where it shows
    assert rival_move(_state(state="scheduled", min_acceptable=11_000), 9_500, rng) is None


def test_a_sealed_rival_bids_once_between_its_limit_and_the_ceiling() -> None:
    rng = random.Random(2)
    price = rival_move(_state(format="sealed", my_price=None), 10_000, rng)
    assert price is not None and 10_000 <= price <= CEILING
    assert rival_move(_state(format="sealed", my_price=price), 10_000, rng) is None


def test_clock_rivals_accept_on_their_side_of_their_limit() -> None:
    rng = random.Random(3)
    clock = {"may_accept": True, "price": 10_500}
    assert rival_move(_state(format="japanese", clock=clock), 10_000, rng) == 10_500
    assert rival_move(_state(format="japanese", clock=clock), 11_000, rng) is None  # too low
    assert rival_move(_state(format="dutch", clock=clock), 10_000, rng) == 10_500
    assert rival_move(_state(format="dutch", clock=clock), 11_000, rng) is None  # not yet
    waiting = {"may_accept": False, "price": 10_500}
    assert rival_move(_state(format="japanese", clock=waiting), 10_000, rng) is None


def test_limits_lie_between_78_and_92_percent_of_the_ceiling() -> None:
    rng = random.Random(4)
    limits = {limit_for(rng) for _ in range(200)}
    assert min(limits) >= CEILING * 78 // 100 and max(limits) <= CEILING * 92 // 100
