"""Delivery on time: the ship-by date, one extension the supplier may ask for, the
buyer's remedies when nothing ships (terminate with a refund, or a dispute), and the
timers that mark a missed date and end the after-sale period.

An award sets each contract's ship-by date (default: the RFQ's lead time after the
award). Until it passes, a funded contract's supplier may ask once for more days with
a reason; the buyer accepts (the date moves) or refuses. Once the date has passed with
nothing shipped, the contract is *overdue*: the timer records that once (the
supplier's credit record counts it) and tells both parties, and the buyer may
``terminate`` it (everything held is refunded) or open a ``non_delivery`` dispute. A
shipment after the date is *late* (counted too), not refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field, field_validator
from sqlmodel import Session, col, select

from rfq import audit_chain, escrow, history
from rfq.accounts import Principal
from rfq.contracts.commands import Command
from rfq.contracts.model import (
    BUYER,
    SUPPLIER,
    Contract,
    ContractStatus,
    ExtensionStatus,
    PaymentKind,
)
from rfq.contracts.moves import (
    ask_payment,
    load,
    locked,
    next_state,
    notify,
    record,
    release_due,
    role_of,
    run_once,
)
from rfq.escrow import Account
from rfq.platform import clock
from rfq.platform.errors import Conflict, Forbidden


class ExtensionRequest(Command):
    days: int = Field(ge=1, le=90, strict=True)
    reason: str

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value.strip() or len(value) > 1000:
            raise ValueError("say why, in at most 1000 characters")
        return value.strip()


class ExtensionAnswer(Command):
    accept: bool


def overdue(contract: Contract, now: datetime | None = None) -> bool:
    """Funded, nothing shipped, and the ship-by date has passed."""
    return (
        contract.status is ContractStatus.funded
        and contract.ship_by is not None
        and (now or clock.now()) >= contract.ship_by
    )


def request_extension(
    session: Session, principal: Principal | None, contract_id: int, body: ExtensionRequest
) -> Contract:
    """The supplier asks once, before its ship-by date passes, for ``days`` more."""
    contract, caller = load(session, principal, contract_id)
    if role_of(contract, caller) != SUPPLIER:
        raise Forbidden("Only the supplier asks for more time.", code="supplier_only")

    def apply() -> None:
        if contract.status not in (ContractStatus.awaiting_funding, ContractStatus.funded):
            raise Conflict(
                f"A contract that is {contract.status.value} has nothing left to ship.",
                code="illegal_transition",
            )
        if contract.extension_status is not ExtensionStatus.none:
            raise Conflict("An extension was already asked for.", code="extension_used")
        if contract.ship_by is None or clock.now() >= contract.ship_by:
            raise Conflict("The ship-by date has passed.", code="ship_by_passed")
        contract.extension_status = ExtensionStatus.requested
        contract.extension_days, contract.extension_reason = body.days, body.reason
        _note(session, contract, caller, "extension_request", {"days": body.days}, body.reason)

    return run_once(session, contract, caller, body.key or "extension", "extension", apply)


def answer_extension(
    session: Session, principal: Principal | None, contract_id: int, body: ExtensionAnswer
) -> Contract:
    """The buyer accepts (the ship-by date moves by the days asked) or refuses."""
    contract, caller = load(session, principal, contract_id)
    if role_of(contract, caller) != BUYER:
        raise Forbidden("Only the buyer answers an extension.", code="buyer_only")

    def apply() -> None:
        if contract.extension_status is not ExtensionStatus.requested:
            raise Conflict("No extension is waiting for an answer.", code="no_extension")
        if contract.status not in (ContractStatus.awaiting_funding, ContractStatus.funded):
            raise Conflict(
                f"A contract that is {contract.status.value} has nothing left to ship.",
                code="illegal_transition",
            )
        if body.accept:  # a miss the timer already recorded stays on the record
            assert contract.ship_by is not None
            contract.ship_by += timedelta(days=contract.extension_days)
        contract.extension_status = (
            ExtensionStatus.accepted if body.accept else ExtensionStatus.refused
        )
        assert contract.ship_by is not None
        data = {"accepted": body.accept, "ship_by": clock.rfc3339(contract.ship_by)}
        _note(session, contract, caller, "extension_answer", data)

    key = body.key or "extension_answer"
    return run_once(session, contract, caller, key, "extension_answer", apply)


def terminate(
    session: Session, principal: Principal | None, contract_id: int, key: str | None
) -> Contract:
    """The buyer ends an overdue contract: everything held is refunded to it."""
    contract, caller = load(session, principal, contract_id)

    def apply() -> None:
        new = next_state(contract, caller, "terminate")
        if not overdue(contract):
            raise Conflict(
                "The contract may be terminated once its ship-by date has passed unshipped.",
                code="not_overdue",
            )
        contract.overdue_at = contract.overdue_at or clock.now()
        held = escrow.position(session, contract.id or 0).held
        txn = f"c{contract.id}:terminate"
        legs = [(Account.escrow, -held), (Account.buyer_refundable, held)]
        escrow.post(session, txn, contract.id or 0, contract.currency, legs, "not delivered")
        if held:
            ask_payment(session, contract, PaymentKind.refund, txn + ":refund", held)
        record(session, contract, "terminate", caller, new, {"refund": held})

    return run_once(session, contract, caller, key or "terminate", "terminate", apply)


def sweep_overdue(session: Session, now: datetime | None = None) -> list[int]:
    """Mark, once each, funded contracts whose ship-by date passed unshipped (the
    supplier's record counts them) and tell both parties; the ids marked."""
    now = now or clock.now()
    due = session.exec(
        select(Contract.id).where(
            Contract.status == ContractStatus.funded,
            col(Contract.ship_by) <= now,
            col(Contract.overdue_at).is_(None),
        )
    ).all()
    marked = []
    for contract_id in due:
        assert contract_id is not None
        contract = locked(session, contract_id)
        if not overdue(contract, now) or contract.overdue_at is not None:
            continue
        contract.overdue_at = now
        session.add(contract)
        _note(
            session, contract, None, "overdue", {"ship_by": clock.rfc3339(contract.ship_by or now)}
        )
        marked.append(contract_id)
    return marked


def sweep_aftersale(session: Session, now: datetime | None = None) -> list[int]:
    """Release the retention of every contract whose after-sale period ran out
    (exactly once each); the ids released."""
    now = now or clock.now()
    due = session.exec(
        select(Contract.id).where(
            Contract.status == ContractStatus.warranty,
            col(Contract.aftersale_ends_at) <= now,
        )
    ).all()
    return release_due(
        session, due, ContractStatus.warranty, "aftersale_end", "warranty_end",
        "after-sale period over",
    )  # fmt: skip


def _note(
    session: Session,
    contract: Contract,
    caller: Principal | None,
    what: str,
    data: dict[str, object],
    text: str = "",
) -> None:
    """A step that changes no state: on the record, the audit chain, and notified."""
    state = contract.status.value
    history.record(
        session, "contract", contract.id or 0, what, state, state,
        caller.user_id if caller else None, text,
    )  # fmt: skip
    audit_chain.append(
        session, contract.auction_id, f"contract_{what}"[:24], {"contract": contract.id, **data}
    )
    titles = {
        "extension_request": "more time asked to ship",
        "extension_answer": "extension answered",
        "overdue": "not shipped by the ship-by date",
    }
    notify(session, contract, what, f"Contract {contract.id} ({contract.lot_name}): {titles[what]}")
