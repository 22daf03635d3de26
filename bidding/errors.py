"""The auction engine's exceptions.

Every error carries a stable machine-readable ``code`` (snake_case) and a human
sentence in ``message``. The HTTP and websocket layers turn them into
``{"code": ..., "message": ...}`` in one place; nothing here formats responses.

.. code-block:: text

    AuctionError                      auction_error
    ├── BidRejected                   bid_rejected (carries min_acceptable)
    │   ├── AuctionNotLive            auction_not_live
    │   ├── NotEligible               not_eligible
    │   │   └── DroppedOut            dropped_out
    │   ├── WrongFormat               wrong_format
    │   ├── InvalidPrice              invalid_price
    │   ├── AboveCeiling              above_ceiling
    │   ├── BelowDecrement            below_decrement
    │   ├── TieNotAllowed             tie_not_allowed
    │   └── PriceNotCurrent           price_not_current
    ├── InvalidRules                  invalid_rules (carries field)
    ├── IllegalMove                   illegal_transition (carries state, move)
    └── BidNotVoidable                bid_not_voidable

The engine raises every ``BidRejected`` subclass except ``NotEligible`` for bids, which
belongs to the I/O layer (invitations, deposits); throttling is the platform's
``rfq.platform.errors.RateLimited``. The engine raises ``DroppedOut`` (a
``NotEligible``) itself for a clock-auction supplier that has dropped out.
"""

from __future__ import annotations

__all__ = [
    "AboveCeiling",
    "AuctionError",
    "AuctionNotLive",
    "BelowDecrement",
    "BidNotVoidable",
    "BidRejected",
    "DroppedOut",
    "IllegalMove",
    "InvalidPrice",
    "InvalidRules",
    "NotEligible",
    "PriceNotCurrent",
    "TieNotAllowed",
    "WrongFormat",
]


class AuctionError(Exception):
    """Base class of every error the auction engine raises."""

    code: str = "auction_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BidRejected(AuctionError):
    """A bid (or a clock acceptance) was refused; nothing changed.

    ``min_acceptable`` is, where it applies, the highest price the rules would accept
    from this supplier right now (in a reverse auction, the least improvement the
    rules accept), or None when no price would be accepted or the question does not
    apply. The I/O layer decides whether the supplier may see it.
    """

    code = "bid_rejected"

    def __init__(self, message: str, *, min_acceptable: int | None = None) -> None:
        super().__init__(message)
        self.min_acceptable = min_acceptable


class AuctionNotLive(BidRejected):
    """The auction is not live, or the bid's time is outside its open window."""

    code = "auction_not_live"


class NotEligible(BidRejected):
    """The supplier may not bid in this auction (not invited, no deposit, dropped out)."""

    code = "not_eligible"


class DroppedOut(NotEligible):
    """A japanese clock's supplier did not accept a level and is out of the auction."""

    code = "dropped_out"


class WrongFormat(BidRejected):
    """The operation does not exist in this auction's format (a proxy floor in a sealed or
    clock auction)."""

    code = "wrong_format"


class InvalidPrice(BidRejected):
    """The price is not a positive integer count of minor units."""

    code = "invalid_price"


class AboveCeiling(BidRejected):
    """The price is above the lot's ceiling price."""

    code = "above_ceiling"


class BelowDecrement(BidRejected):
    """The price does not undercut the reference price by the required decrement.

    This includes any bid that is not lower than the supplier's own standing bid:
    a supplier can never raise or repeat its price.
    """

    code = "below_decrement"


class TieNotAllowed(BidRejected):
    """The price ties another supplier's standing bid and the lot rejects ties."""

    code = "tie_not_allowed"


class PriceNotCurrent(BidRejected):
    """A clock auction takes only its current level's price (``min_acceptable``); the
    clock has moved on, or the price was never a level's."""

    code = "price_not_current"


class InvalidRules(AuctionError):
    """A lot's auction rules (or the auction built from them) are invalid.

    ``field`` is the dotted path of the offending value, e.g. ``"rules.decrement.bps"``.
    """

    code = "invalid_rules"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class IllegalMove(AuctionError):
    """A move that the auction's current state does not allow.

    ``state`` and ``move`` name them; the message is a sentence naming both, plus an
    optional detail (why a time-bound move is refused).
    """

    code = "illegal_transition"

    def __init__(self, state: str, move: str, detail: str = "") -> None:
        message = f"The move {move!r} is not allowed in state {state!r}."
        super().__init__(f"{message} {detail}" if detail else message)
        self.state = state
        self.move = move


class BidNotVoidable(AuctionError):
    """The bid to void does not exist in this auction or is already void."""

    code = "bid_not_voidable"
