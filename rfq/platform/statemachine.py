"""The one ``transition()`` every state machine of the domain goes through.

A machine is a table ``{(state, move): next_state}`` of the moves it allows; any other
move from a state raises :class:`IllegalTransition`, a ``Conflict`` whose sentence
names the thing, its state and the move.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from rfq.platform.errors import Conflict

S = TypeVar("S", bound=StrEnum)


class IllegalTransition(Conflict):
    """The move is not allowed from the current state."""

    code = "illegal_transition"


def transition(table: Mapping[tuple[S, str], S], what: str, state: S, move: str) -> S:
    """The state after ``move`` from ``state``, or ``IllegalTransition``."""
    try:
        return table[(state, move)]
    except KeyError:
        allowed = sorted(m for (s, m) in table if s == state)
        hint = f" Allowed now: {', '.join(allowed)}." if allowed else ""
        raise IllegalTransition(f"A {what} that is {state.value} cannot {move}.{hint}") from None


def moves_from(table: Mapping[tuple[S, str], S], state: S) -> list[str]:
    """The moves allowed from ``state``."""
    return sorted(m for (s, m) in table if s == state)
