"""A lot's auction rules: typed values, strict parsing from JSON, and back.

The JSON shape is the ``rules`` object of a lot in ``POST /api/rfqs``::

    {"format": "reverse_english", "visibility": "rank_only",
     "decrement": {"amount": 1}, "decrement_from": "own", "ties": "earlier_wins",
     "soft_close": {"window_s": 120, "extend_s": 120, "trigger": "any",
                    "max_extensions": null}}

Clock formats (``japanese``, ``dutch``) replace ``decrement`` and ``soft_close`` with a
``clock`` object: ``{"start_price": 120, "step": 5, "interval_s": 30, "end_price": 80}``.

Per format:

- ``reverse_english``: ``decrement`` required; ``soft_close`` optional; no ``clock``.
- ``sealed``: ``decrement`` required (a supplier's re-bid must undercut its own
  sealed bid); ``decrement_from`` must be ``own`` and ``ties`` must be
  ``earlier_wins`` (``best`` or ``rejected`` would leak other bids through the
  rejections); no ``soft_close``; ``visibility`` applies only from the close on (while
  live, suppliers see nothing but their own bids).
- ``japanese``: ``clock`` required with ``end_price < start_price <= ceiling``; the
  price falls by ``step`` each ``interval_s`` down to ``end_price`` (the floor).
- ``dutch``: ``clock`` required with ``start_price < end_price <= ceiling``; the price
  rises by ``step`` each ``interval_s`` up to ``end_price`` (the cap).

``pre_bids: true`` (``reverse_english`` and ``sealed`` only) lets suppliers bid before
the opening: a pre-bid is checked against the ceiling and the supplier's own pre-bid
(its decrement), never against a rival's, which nobody sees before the opening; the
ranking starts from them (`bidding.auction.place_bid`).

Optional fields default to ``visibility: rank_only``, ``decrement_from: own``,
``ties: earlier_wins``, no soft close and no pre-bids. Unknown keys are rejected. Integers must be
JSON integers (not booleans, floats or strings). Every value is bounded so that all the
engine's arithmetic stays exact in a Redis Lua script's doubles (below 2**53).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from bidding.errors import InvalidRules

__all__ = [
    "BPS",
    "MAX_CLOCK_LEVELS",
    "MAX_PRICE",
    "Clock",
    "Decrement",
    "DecrementFrom",
    "Format",
    "LotRules",
    "SoftClose",
    "Ties",
    "Trigger",
    "Visibility",
    "min_decrement",
    "parse_rules",
    "rules_to_dict",
]

BPS = 10_000
"""Basis points in one whole: ``bps / BPS`` is the fraction (never computed as a float)."""

MAX_PRICE = 10**10
"""The largest ceiling price, in minor units (100 million CNY per unit)."""

MAX_CLOCK_LEVELS = 1_000
"""The most price levels a clock auction may have (``step`` must not be smaller)."""

_MAX_SECONDS = 86_400
_MAX_COUNT = 10_000


class Format(StrEnum):
    """How suppliers compete for the lot."""

    reverse_english = "reverse_english"
    sealed = "sealed"
    japanese = "japanese"
    dutch = "dutch"

    @property
    def is_clock(self) -> bool:
        """True for the clock formats, where the engine sets the price levels."""
        return self in (Format.japanese, Format.dutch)


class Visibility(StrEnum):
    """What a supplier sees of the others: rank only, plus best price, or every price."""

    rank_only = "rank_only"
    best_price = "best_price"
    full_ladder = "full_ladder"


class DecrementFrom(StrEnum):
    """The price a new bid must undercut: the supplier's own standing bid, or the best."""

    own = "own"
    best = "best"


class Ties(StrEnum):
    """What an equal (transformed) price to another supplier's standing bid does."""

    earlier_wins = "earlier_wins"
    rejected = "rejected"


class Trigger(StrEnum):
    """Which bids inside the soft-close window extend the auction."""

    any = "any"
    leader = "leader"
    top_n = "top_n"


@dataclass(slots=True, frozen=True)
class Decrement:
    """The minimum step of a new bid: exactly one of ``amount`` (minor units) or ``bps``."""

    amount: int | None = None
    bps: int | None = None


@dataclass(slots=True, frozen=True)
class SoftClose:
    """Overtime: a triggering bid in the last ``window_s`` seconds extends the auction.

    ``top_n`` is set exactly when ``trigger`` is ``top_n``; ``max_extensions`` None
    means unlimited.
    """

    window_s: int
    extend_s: int
    trigger: Trigger = Trigger.any
    top_n: int | None = None
    max_extensions: int | None = None


@dataclass(slots=True, frozen=True)
class Clock:
    """The price levels of a clock auction.

    Level ``k`` lasts ``interval_s`` seconds at ``start_price - k * step`` (japanese) or
    ``start_price + k * step`` (dutch), clamped to ``end_price``, the last level: the
    floor of a japanese clock, the cap of a dutch one.
    """

    start_price: int
    step: int
    interval_s: int
    end_price: int


@dataclass(slots=True, frozen=True)
class LotRules:
    """A lot's auction rules; build them with `parse_rules` to have them validated.

    ``decrement`` is None only for clock formats; ``clock`` is set only for them.
    """

    format: Format
    visibility: Visibility = Visibility.rank_only
    decrement: Decrement | None = None
    decrement_from: DecrementFrom = DecrementFrom.own
    ties: Ties = Ties.earlier_wins
    soft_close: SoftClose | None = None
    clock: Clock | None = None
    pre_bids: bool = False


def parse_rules(data: object, *, ceiling_price: int) -> LotRules:
    """Validate a lot's ``rules`` JSON object against its ceiling price.

    Raises `InvalidRules` with the dotted path of the first offending field (e.g.
    ``"rules.soft_close.top_n"``) and a sentence saying what is wrong.
    """
    if not _is_int(ceiling_price) or not 1 <= ceiling_price <= MAX_PRICE:
        raise InvalidRules(
            "ceiling_price", f"The ceiling price must be an integer from 1 to {MAX_PRICE}."
        )
    obj = _object(data, "rules")
    _only_keys(
        obj,
        "rules",
        {
            "format",
            "visibility",
            "decrement",
            "decrement_from",
            "ties",
            "soft_close",
            "clock",
            "pre_bids",
        },
    )
    fmt = _choice(obj, "format", Format, "rules", None)
    rules = LotRules(
        format=fmt,
        visibility=_choice(obj, "visibility", Visibility, "rules", Visibility.rank_only),
        decrement_from=_choice(obj, "decrement_from", DecrementFrom, "rules", DecrementFrom.own),
        ties=_choice(obj, "ties", Ties, "rules", Ties.earlier_wins),
        decrement=_decrement(obj, fmt, ceiling_price),
        soft_close=_soft_close(obj, fmt),
        clock=_clock(obj, fmt, ceiling_price),
        pre_bids=_pre_bids(obj, fmt),
    )
    if fmt is Format.sealed and rules.decrement_from is not DecrementFrom.own:
        raise InvalidRules(
            "rules.decrement_from", "A sealed auction's decrement must be from the own bid."
        )
    if fmt is Format.sealed and rules.ties is not Ties.earlier_wins:
        raise InvalidRules(
            "rules.ties", "A sealed auction cannot reject ties without leaking bids."
        )
    return rules


def check_secrecy(rules: LotRules) -> None:
    """Refuse the combinations whose refusals would tell a supplier what the lot's
    visibility hides from it (checked when a lot is drafted; lots drafted before run on).

    - ``ties: rejected`` is kept for ``full_ladder`` lots: a ``tie_not_allowed`` refusal
      names a rival's exact (transformed) price, which only a full ladder shows anyway;
    - ``decrement_from: best`` needs the best price shown (``best_price`` or
      ``full_ladder``): the ``below_decrement`` boundary locates the best bid.

    Sealed lots allow neither (`parse_rules`).
    """
    if rules.ties is Ties.rejected and rules.visibility is not Visibility.full_ladder:
        raise InvalidRules(
            "rules.ties",
            "Rejecting ties tells a supplier a rival's exact price; only a full_ladder lot, "
            "which shows every price, may reject them.",
        )
    if rules.decrement_from is DecrementFrom.best and rules.visibility is Visibility.rank_only:
        raise InvalidRules(
            "rules.decrement_from",
            "A decrement from the best bid tells a rank_only supplier where the best price "
            "is; use decrement_from own, or a visibility that shows the best price.",
        )


def rules_to_dict(rules: LotRules) -> dict[str, object]:
    """The JSON form of ``rules``; `parse_rules` turns it back into an equal value."""
    out: dict[str, object] = {
        "format": rules.format.value,
        "visibility": rules.visibility.value,
        "decrement_from": rules.decrement_from.value,
        "ties": rules.ties.value,
    }
    if rules.decrement is not None:
        d = rules.decrement
        out["decrement"] = {"amount": d.amount} if d.amount is not None else {"bps": d.bps}
    if rules.format is Format.reverse_english:
        sc = rules.soft_close
        out["soft_close"] = None if sc is None else _soft_close_to_dict(sc)
    if rules.clock is not None:
        c = rules.clock
        out["clock"] = {
            "start_price": c.start_price,
            "step": c.step,
            "interval_s": c.interval_s,
            "end_price": c.end_price,
        }
    if rules.pre_bids:
        out["pre_bids"] = True
    return out


def min_decrement(rules: LotRules, reference_price: int) -> int:
    """The smallest step, in minor units, by which a bid must undercut ``reference_price``.

    An ``amount`` decrement is that amount. A ``bps`` decrement is
    ``ceil(reference_price * bps / 10000)`` computed in integers as
    ``-((-reference_price * bps) // 10000)``, and never less than 1 minor unit.
    """
    d = rules.decrement
    if d is None:
        raise InvalidRules("rules.decrement", f"The {rules.format} format has no decrement.")
    if d.amount is not None:
        return d.amount
    assert d.bps is not None
    return max(1, -((-reference_price * d.bps) // BPS))


def _soft_close_to_dict(sc: SoftClose) -> dict[str, object]:
    out: dict[str, object] = {
        "window_s": sc.window_s,
        "extend_s": sc.extend_s,
        "trigger": sc.trigger.value,
        "max_extensions": sc.max_extensions,
    }
    if sc.top_n is not None:
        out["top_n"] = sc.top_n
    return out


def _decrement(obj: Mapping[str, object], fmt: Format, ceiling_price: int) -> Decrement | None:
    if fmt.is_clock:
        _absent(obj, "decrement", f"The {fmt} format has no decrement; its clock sets the steps.")
        return None
    if "decrement" not in obj:
        raise InvalidRules("rules.decrement", f"The {fmt} format needs a decrement.")
    d = _object(obj["decrement"], "rules.decrement")
    _only_keys(d, "rules.decrement", {"amount", "bps"})
    if ("amount" in d) == ("bps" in d):
        raise InvalidRules("rules.decrement", "Give exactly one of amount or bps.")
    if "amount" in d:
        amount = _int(d, "amount", "rules.decrement", 1, ceiling_price - 1)
        return Decrement(amount=amount)
    return Decrement(bps=_int(d, "bps", "rules.decrement", 1, 5_000))


def _soft_close(obj: Mapping[str, object], fmt: Format) -> SoftClose | None:
    if fmt is not Format.reverse_english:
        _absent(obj, "soft_close", f"The {fmt} format has no soft close.")
        return None
    if obj.get("soft_close") is None:
        return None
    sc = _object(obj["soft_close"], "rules.soft_close")
    path = "rules.soft_close"
    _only_keys(sc, path, {"window_s", "extend_s", "trigger", "top_n", "max_extensions"})
    trigger = _choice(sc, "trigger", Trigger, path, None)
    top_n: int | None = None
    if trigger is Trigger.top_n:
        top_n = _int(sc, "top_n", path, 1, _MAX_COUNT)
    elif sc.get("top_n") is not None:
        raise InvalidRules(f"{path}.top_n", "top_n is only for the top_n trigger.")
    max_extensions: int | None = None
    if sc.get("max_extensions") is not None:
        max_extensions = _int(sc, "max_extensions", path, 1, _MAX_COUNT)
    return SoftClose(
        window_s=_int(sc, "window_s", path, 1, _MAX_SECONDS),
        extend_s=_int(sc, "extend_s", path, 1, _MAX_SECONDS),
        trigger=trigger,
        top_n=top_n,
        max_extensions=max_extensions,
    )


def _clock(obj: Mapping[str, object], fmt: Format, ceiling_price: int) -> Clock | None:
    if not fmt.is_clock:
        _absent(obj, "clock", f"The {fmt} format has no clock.")
        return None
    if "clock" not in obj:
        raise InvalidRules("rules.clock", f"The {fmt} format needs a clock.")
    path = "rules.clock"
    c = _object(obj["clock"], path)
    _only_keys(c, path, {"start_price", "step", "interval_s", "end_price"})
    start = _int(c, "start_price", path, 1, ceiling_price)
    end = _int(c, "end_price", path, 1, ceiling_price)
    step = _int(c, "step", path, 1, ceiling_price)
    interval_s = _int(c, "interval_s", path, 1, _MAX_SECONDS)
    if fmt is Format.japanese and not end < start:
        raise InvalidRules(f"{path}.end_price", "A japanese clock's floor must be below its start.")
    if fmt is Format.dutch and not start < end:
        raise InvalidRules(f"{path}.end_price", "A dutch clock's cap must be above its start.")
    levels = -(-abs(end - start) // step) + 1
    if levels > MAX_CLOCK_LEVELS:
        raise InvalidRules(
            f"{path}.step", f"The step gives {levels} levels; at most {MAX_CLOCK_LEVELS}."
        )
    return Clock(start_price=start, step=step, interval_s=interval_s, end_price=end)


def _pre_bids(obj: Mapping[str, object], fmt: Format) -> bool:
    value = obj.get("pre_bids", False)
    if not isinstance(value, bool):
        raise InvalidRules("rules.pre_bids", "pre_bids must be true or false.")
    if value and fmt.is_clock:
        raise InvalidRules("rules.pre_bids", f"A {fmt} clock takes no pre-bids.")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidRules(path, f"{path} must be a JSON object.")
    return value


def _only_keys(obj: Mapping[str, object], path: str, allowed: set[str]) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise InvalidRules(f"{path}.{extra[0]}", f"{path} has no field {extra[0]!r}.")


def _absent(obj: Mapping[str, object], key: str, message: str) -> None:
    if obj.get(key) is not None:
        raise InvalidRules(f"rules.{key}", message)


def _int(obj: Mapping[str, object], key: str, path: str, low: int, high: int) -> int:
    value = obj.get(key)
    if not _is_int(value):
        raise InvalidRules(f"{path}.{key}", f"{key} must be an integer.")
    assert isinstance(value, int)
    if not low <= value <= high:
        raise InvalidRules(f"{path}.{key}", f"{key} must be from {low} to {high}.")
    return value


_E = TypeVar("_E", bound=StrEnum)


def _choice(
    obj: Mapping[str, object], key: str, enum: type[_E], path: str, default: _E | None
) -> _E:
    if key not in obj and default is not None:
        return default
    value = obj.get(key)
    choices = [e.value for e in enum]
    if not isinstance(value, str) or value not in choices:
        raise InvalidRules(f"{path}.{key}", f"{key} must be one of {', '.join(choices)}.")
    return enum(value)
