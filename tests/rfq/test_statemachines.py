"""Every state machine of the domain: allowed moves, refused moves with their code."""

from __future__ import annotations

import pytest

from rfq import certification, deposits, lifecycle
from rfq.contracts import model
from rfq.platform.statemachine import IllegalTransition, moves_from, transition

MACHINES = [
    (
        "certification",
        certification.MOVES,
        certification.CertStatus,
        ["approve", "reject", "suspend", "reinstate"],
    ),
    ("deposit", deposits.MOVES, deposits.DepositStatus, ["confirm", "cancel", "refund"]),
    (
        "RFQ",
        lifecycle.MOVES,
        lifecycle.RfqStatus,
        ["publish", "open", "close", "award", "no_award", "cancel"],
    ),
    (
        "contract",
        model.MOVES,
        model.ContractStatus,
        sorted({move for _, move in model.MOVES}),
    ),
]


@pytest.mark.parametrize(("what", "table", "states", "moves"), MACHINES)
def test_every_state_and_move(what, table, states, moves) -> None:
    """Each (state, move) either follows the table or raises illegal_transition naming both."""
    for state in states:
        for move in moves:
            if (state, move) in table:
                assert transition(table, what, state, move) == table[(state, move)]
            else:
                with pytest.raises(IllegalTransition) as caught:
                    transition(table, what, state, move)
                assert caught.value.code == "illegal_transition"
                assert state.value in caught.value.message and move in caught.value.message


def test_known_paths() -> None:
    """The documented paths exist: suspended certifications can be reinstated, final RFQ
    states allow nothing."""
    cs = certification.CertStatus
    assert transition(certification.MOVES, "c", cs.suspended, "reinstate") is cs.approved
    for final in (
        lifecycle.RfqStatus.awarded,
        lifecycle.RfqStatus.no_award,
        lifecycle.RfqStatus.cancelled,
    ):
        assert moves_from(lifecycle.MOVES, final) == []
    assert moves_from(deposits.MOVES, deposits.DepositStatus.refunded) == []
