"""The decision on one bid, from plain values: the part a Redis Lua script mirrors.

`bidding.auction.place_bid` gathers a `Situation` from the auction's state and calls
`check_bid`; a Lua script holding the same few values must reach the same decision.
Everything is integer arithmetic on values below 2**53, so Lua's doubles are exact,
except floor division: Lua must compute ``a // b`` (b > 0) as ``q = math.floor(a / b)``
followed by the fix-up ``if q * b > a then q = q - 1 elseif (q + 1) * b <= a then
q = q + 1 end``, because the double quotient may round across an integer.

Ranking. Each supplier has a fixed `Transform`; its ranking key, the *transformed
price*, is ``price * multiplier_bps + adder * 10000``: an exact integer in 1/10000 of a
minor unit. Lower ranks better; equal keys rank the earlier bid first. Without a
transform (``multiplier_bps=10000, adder=0``) the ranking is by raw price.

The rules of `check_bid`, in this order (the first that fails decides the code):

1. ``price`` is an int (not a bool) and at least 1, else ``invalid_price``.
2. ``price <= ceiling_price``, else ``above_ceiling``.
3. With a standing bid of its own, ``price < own_price``: no supplier ever raises or
   repeats its price, else ``below_decrement``.
4. ``decrement_from=own`` with a standing bid of its own:
   ``price <= own_price - min_decrement(rules, own_price)``, else ``below_decrement``.
5. ``decrement_from=best`` when any bid stands (the bidder's own included):
   ``price <= tie - min_decrement(rules, tie)``, else ``below_decrement``, where
   ``tie = (best_transformed - adder * 10000) // multiplier_bps`` is the bidder's
   highest raw price whose transformed price does not exceed the best one. So the
   decrement is applied in the bidder's own raw terms, and the new transformed price is
   at most ``best_transformed - decrement * multiplier_bps``. A supplier's first bid
   must beat the best too.
6. ``ties=rejected``: the transformed price must differ from every *other*
   supplier's standing transformed price, else ``tie_not_allowed``.

Every rejection carries ``min_acceptable``: `highest_acceptable`, the highest price
that passes all six rules now (None if none does).
"""

from __future__ import annotations

from dataclasses import dataclass

from bidding.errors import (
    AboveCeiling,
    BelowDecrement,
    BidRejected,
    InvalidPrice,
    InvalidRules,
    TieNotAllowed,
)
from bidding.rules import BPS, MAX_PRICE, DecrementFrom, LotRules, SoftClose, Ties, Trigger
from bidding.rules import min_decrement as _min_decrement

__all__ = [
    "MAX_MULTIPLIER_BPS",
    "MIN_MULTIPLIER_BPS",
    "Situation",
    "Transform",
    "check_bid",
    "extension_end",
    "highest_acceptable",
    "lead_range",
    "price_bound",
    "validate_transform",
]

MIN_MULTIPLIER_BPS = 1_000
"""The smallest price multiplier of a transform: 0.1x."""

MAX_MULTIPLIER_BPS = 100_000
"""The largest price multiplier of a transform: 10x."""


@dataclass(slots=True, frozen=True)
class Transform:
    """A supplier's fixed ranking adjustment (bid transformation), set before the start.

    The buyer uses it to weigh non-price factors: ``multiplier_bps`` scales the price
    (10000 = 1x) and ``adder`` (minor units) is added to it. Suppliers see their own
    raw price; the buyer sees both.
    """

    multiplier_bps: int = BPS
    adder: int = 0

    def apply(self, price: int) -> int:
        """The transformed price: ``price * multiplier_bps + adder * 10000``."""
        return price * self.multiplier_bps + self.adder * BPS

    def tie_price(self, transformed: int) -> int:
        """The highest raw price whose transformed price is at most ``transformed``."""
        return (transformed - self.adder * BPS) // self.multiplier_bps


@dataclass(slots=True, frozen=True)
class Situation:
    """What the decision needs to know about one supplier's bid, as plain values.

    ``own_price`` is the supplier's standing (latest live) raw price; ``best_transformed``
    is the leading standing bid's transformed price, whoever holds it; ``taken`` holds
    the transformed prices of the other suppliers' standing bids.
    """

    ceiling_price: int
    transform: Transform = Transform()
    own_price: int | None = None
    best_transformed: int | None = None
    taken: frozenset[int] = frozenset()


def validate_transform(transform: Transform, field: str) -> None:
    """Raise `InvalidRules` at ``field`` unless ``transform`` is within the bounds."""
    m, a = transform.multiplier_bps, transform.adder
    if not _is_int(m) or not MIN_MULTIPLIER_BPS <= m <= MAX_MULTIPLIER_BPS:
        raise InvalidRules(
            f"{field}.multiplier_bps",
            f"multiplier_bps must be an integer from {MIN_MULTIPLIER_BPS} to {MAX_MULTIPLIER_BPS}.",
        )
    if not _is_int(a) or not -MAX_PRICE <= a <= MAX_PRICE:
        raise InvalidRules(
            f"{field}.adder", f"adder must be an integer from {-MAX_PRICE} to {MAX_PRICE}."
        )


def price_bound(rules: LotRules, s: Situation) -> int:
    """The highest raw price that passes rules 2 to 5 (ties aside); below 1 means none."""
    bound = s.ceiling_price
    if s.own_price is not None:
        bound = min(bound, _own_bound(rules, s.own_price))
    if rules.decrement_from is DecrementFrom.best and s.best_transformed is not None:
        bound = min(bound, _best_bound(rules, s))
    return bound


def highest_acceptable(rules: LotRules, s: Situation) -> int | None:
    """The highest price `check_bid` accepts now, or None if it accepts none.

    That is `price_bound`, stepped down one minor unit at a time past prices whose
    transformed price another supplier holds when ties are rejected.
    """
    price = price_bound(rules, s)
    if rules.ties is Ties.rejected:
        while price >= 1 and s.transform.apply(price) in s.taken:
            price -= 1
    return price if price >= 1 else None


def check_bid(rules: LotRules, s: Situation, price: object) -> int:
    """Decide one bid by the rules in this module's docstring; return its transformed price.

    Raises a `BidRejected` subclass (``invalid_price``, ``above_ceiling``,
    ``below_decrement``, ``tie_not_allowed``) carrying ``min_acceptable``.
    """
    if not isinstance(price, int) or isinstance(price, bool) or price < 1:
        raise InvalidPrice(
            "The price must be a positive integer of minor units.",
            min_acceptable=highest_acceptable(rules, s),
        )
    problem = _problem(rules, s, price)
    if problem is not None:
        error, message = problem
        raise error(message, min_acceptable=highest_acceptable(rules, s))
    return s.transform.apply(price)


def lead_range(rules: LotRules, s: Situation, floor: int) -> tuple[int, int] | None:
    """The prices at or above ``floor`` that `check_bid` accepts and that would lead.

    Returns ``(floor, high)``, or None if there are none or no bid stands yet. Leading
    means a transformed price strictly below ``best_transformed`` (an equal one would be
    later, so ranked second). No other supplier's bid lies below the best, so ties
    never get in the way. Used by proxy bidding.
    """
    if s.best_transformed is None:
        return None
    high = min(price_bound(rules, s), s.transform.tie_price(s.best_transformed - 1))
    return (floor, high) if 1 <= floor <= high else None


def extension_end(
    soft_close: SoftClose | None, *, ends_at_ms: int, extensions: int, now_ms: int, rank: int
) -> int | None:
    """The new ``ends_at_ms`` if an accepted bid at ``now_ms`` extends the auction, else None.

    The bid extends the auction when all hold: the lot has a soft close; the bid lands
    in the window, ``now_ms >= ends_at_ms - window_s * 1000``; fewer than
    ``max_extensions`` extensions happened (None: unlimited); the trigger fires
    (``any``: always; ``leader``: the bidder's ``rank`` after the bid is 1; ``top_n``:
    it is at most ``top_n``); and the end moves: the new end is ``now_ms + extend_s *
    1000``, counted only if later than ``ends_at_ms``.
    """
    if soft_close is None or now_ms < ends_at_ms - soft_close.window_s * 1000:
        return None
    if soft_close.max_extensions is not None and extensions >= soft_close.max_extensions:
        return None
    if soft_close.trigger is Trigger.leader and rank != 1:
        return None
    if soft_close.trigger is Trigger.top_n and rank > (soft_close.top_n or 0):
        return None
    new_end = now_ms + soft_close.extend_s * 1000
    return new_end if new_end > ends_at_ms else None


def _problem(rules: LotRules, s: Situation, price: int) -> tuple[type[BidRejected], str] | None:
    """The first of rules 2 to 6 that ``price`` breaks, as (error class, message)."""
    if price > s.ceiling_price:
        return AboveCeiling, f"The price is above the ceiling price of {s.ceiling_price}."
    if s.own_price is not None and price >= s.own_price:
        return BelowDecrement, f"The price must be lower than your standing bid of {s.own_price}."
    if s.own_price is not None and price > _own_bound(rules, s.own_price):
        step = _min_decrement(rules, s.own_price)
        return (
            BelowDecrement,
            f"The price must undercut your standing bid of {s.own_price} by at least {step}.",
        )
    best = s.best_transformed is not None and rules.decrement_from is DecrementFrom.best
    if best and price > _best_bound(rules, s):
        return BelowDecrement, "The price must undercut the best bid by at least the decrement."
    if rules.ties is Ties.rejected and s.transform.apply(price) in s.taken:
        return TieNotAllowed, "The price ties another supplier's bid."
    return None


def _own_bound(rules: LotRules, own_price: int) -> int:
    if rules.decrement_from is DecrementFrom.own:
        return own_price - _min_decrement(rules, own_price)
    return own_price - 1


def _best_bound(rules: LotRules, s: Situation) -> int:
    assert s.best_transformed is not None
    tie = s.transform.tie_price(s.best_transformed)
    return tie - _min_decrement(rules, tie)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
