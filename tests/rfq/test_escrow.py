"""The escrow ledger and the contract state machine against a real SQLite database.

The stateful test throws random sequences of commands at one contract per example,
by the right and the wrong parties, with fresh and replayed keys, and checks after
every step: illegal moves are refused with their codes, a replayed key changes
nothing, every transaction sums to zero, and held = funded - released - refunded,
never negative.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func
from sqlmodel import Session, select

from rfq import escrow
from rfq.accounts import Company, CompanyKind, Principal, Role, User, Via
from rfq.auctions import AuctionRecord
from rfq.awards import Award
from rfq.contracts import commands, delivery, disputes, model
from rfq.contracts.model import (
    MOVES,
    Contract,
    ContractStatus,
    DisputeKind,
    Payment,
    PaymentStatus,
)
from rfq.escrow import Posting
from rfq.lifecycle import RfqStatus
from rfq.platform import clock, db
from rfq.platform.errors import Conflict, RfqError
from rfq.rfq_tables import Audience, Lot, Rfq

MILESTONES = [{"name": "On shipping", "bps": 3000}, {"name": "On acceptance", "bps": 7000}]


@given(
    total=st.integers(0, 10**15),
    shares=st.lists(st.integers(1, 10_000), min_size=1, max_size=10).filter(
        lambda s: sum(s) <= 10_000
    ),
)
def test_milestone_amounts_sum_exactly(total: int, shares: list[int]) -> None:
    """Milestone amounts add up to the total to the minor unit, none negative."""
    shares[-1] += 10_000 - sum(shares)
    amounts = escrow.milestone_amounts(total, shares)
    assert sum(amounts) == total and all(a >= 0 for a in amounts)


@given(held=st.integers(0, 10**15), share=st.integers(0, 10_000), fee=st.integers(0, 10_000))
def test_split_legs_balance(held: int, share: int, fee: int) -> None:
    """A settlement's legs sum to zero and take exactly what is held out of escrow."""
    to_supplier = held * share // 10_000
    legs = escrow.split_legs(held, to_supplier, fee)
    assert sum(a for _, a in legs) == 0
    assert sum(a for acc, a in legs if acc is escrow.Account.escrow) == -held
    assert escrow.fee_of(to_supplier, fee) <= to_supplier


def test_unbalanced_transaction_is_refused(tmp_path: Path) -> None:
    """A transaction whose legs do not sum to zero never reaches the ledger."""
    with pytest.raises(escrow.Unbalanced):
        escrow.post(None, "t", 1, "CNY", [(escrow.Account.escrow, 1)])  # type: ignore[arg-type]


class _World:
    """A buyer, a supplier, an operator, and an awarded auction to hang contracts on."""

    def __init__(self, url: str) -> None:
        db.upgrade(url)
        self.database = db.Database(url)
        with self.database.session() as s:
            now = clock.now()
            buyer = Company(name="Buyer Co", kind=CompanyKind.buyer, created_at=now)
            supplier = Company(name="Supplier Co", kind=CompanyKind.supplier, created_at=now)
            s.add_all([buyer, supplier])
            s.flush()
            users = [
                User(email=f"{n}@x.test", password_hash="-", role=r, company_id=c, created_at=now)
                for n, r, c in (
                    ("buyer", Role.buyer, buyer.id),
                    ("supplier", Role.supplier, supplier.id),
                    ("operator", Role.operator, None),
                    ("other", Role.supplier, None),
                )
            ]
            s.add_all(users)
            s.flush()
            rfq = Rfq(
                buyer_company_id=buyer.id or 0,
                created_by=users[0].id or 0,
                title="t",
                category="fasteners",
                keywords=[],
                currency="CNY",
                audience=Audience.public,
                starts_at=now,
                ends_at=now,
                status=RfqStatus.awarded,
                created_at=now,
            )
            s.add(rfq)
            s.flush()
            lot = Lot(
                rfq_id=rfq.id or 0,
                position=0,
                name="Bolts",
                quantity=1000,
                unit="pcs",
                ceiling_price=500,
                starts_at=now,
                ends_at=now,
                rules={},
            )
            s.add(lot)
            s.flush()
            auction = AuctionRecord(
                id=lot.id or 0,
                rfq_id=rfq.id or 0,
                status="awarded",
                format="reverse_english",
                rules={},
                currency="CNY",
                quantity=1000,
                ceiling_price=500,
                starts_at=now,
                ends_at=now,
            )
            s.add(auction)
            award = Award(auction_id=lot.id or 0, round=1, kind="award", decided_at=now)
            s.add(award)
            s.commit()
            self.ids = (award.id, auction.id, rfq.id, lot.id)
            self.who = {
                "buyer": _principal(users[0]),
                "supplier": _principal(users[1]),
                "operator": _principal(users[2]),
                "outsider": _principal(users[3]),
            }
        self.rounds = 0

    def new_contract(self, terms: dict[str, Any]) -> int:
        def make(s: Session) -> int:
            award_id, auction_id, rfq_id, lot_id = self.ids
            auction, rfq, lot = (
                s.get(AuctionRecord, auction_id),
                s.get(Rfq, rfq_id),
                s.get(Lot, lot_id),
            )
            self.rounds += 1
            line = {
                "bid_id": f"b{self.rounds}",
                "company": rfq.buyer_company_id + 1,
                "quantity": 7,
                "price": 333,
            }  # type: ignore[union-attr]
            decision = {
                "by": None,
                "milestones": MILESTONES,
                "inspection_days": 2,
                "fee_bps": 150,
                **terms,
            }
            contract = commands.offer(
                s,
                award_id=award_id or 0,
                auction=auction,
                rfq=rfq,
                lot=lot,
                line=line,
                decision=decision,
            )
            return contract.id or 0

        return self.database.run_sync(make)


def _principal(user: User) -> Principal:
    return Principal(user.id or 0, user.email, user.role, user.company_id, 0, Via.bearer)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("escrow") / "escrow.sqlite3"
    w = _World(f"sqlite:///{path}")
    yield w
    w.database.dispose()


WHO = st.sampled_from(["buyer", "supplier", "operator", "outsider"])


def _mostly(party: str) -> st.SearchStrategy[str]:
    """The party whose move it is, three times in four; anyone otherwise."""
    return st.one_of(st.just(party), st.just(party), st.just(party), WHO)


KEY = st.sampled_from([None, "k1", "k2", "k3"])
EXPECTED = {
    "illegal_transition",
    "not_your_move",
    "buyer_only",
    "key_reused",
    "milestone_released",
    "invalid_split",
    "invalid_milestone",
    "inspection_over",
    "not_found",
    "forbidden",
    "wrong_role",
    "funding_pending",
    "insufficient_escrow",
    "no_dispute",
    "dispute_closed",
    "not_overdue",
    "extension_used",
    "ship_by_passed",
    "no_extension",
    "supplier_only",
    "quantity_exceeds_contract",
    "quantity_exceeds_shipped",
    "warranty_over",
    "return_window_over",
}
SHIP_BY = st.sampled_from([-3600, 2 * 86_400, 30 * 86_400])
"""Seconds from now to the contract's ship-by date (a past one: overdue from the start)."""
AFTERSALE = st.sampled_from(
    [{}, {"warranty_days": 2, "retention_bps": 500}, {"return_days": 1, "retention_bps": 1_000}]
)


def test_escrow_state_machine(world: _World) -> None:
    """Random, illegal and replayed commands never break the ledger's invariants."""

    class Escrow(RuleBasedStateMachine):
        @initialize(ahead=st.integers(0, 6), ship_in=SHIP_BY, aftersale=AFTERSALE)
        def start(self, ahead: int, ship_in: int, aftersale: dict[str, int]) -> None:
            ship_by = clock.rfc3339(clock.now() + timedelta(seconds=ship_in))
            self.cid = world.new_contract({"ship_by": ship_by, **aftersale})
            self.keys: dict[str, str] = {}
            for _ in range(ahead):
                self.progress()

        @rule()
        def progress(self) -> None:
            """The next move on the happy path, by the right party (so that examples
            reach the money and the disputes, not just the first refusals)."""
            status = self._state()[0]
            b, p, o = world.who["buyer"], world.who["supplier"], world.who["operator"]
            step = {
                "offered": lambda s: commands.accept(s, p, self.cid, None),
                "awaiting_funding": lambda s: [
                    commands.request_funding(s, b, self.cid, None),
                    *(
                        commands.confirm_payment(s, o, payment.id or 0)
                        for payment in s.exec(
                            select(Payment).where(Payment.contract_id == self.cid)
                        ).all()
                    ),
                ],
                "funded": lambda s: commands.ship(s, p, self.cid, commands.Ship()),
                "shipped": lambda s: commands.confirm(s, b, self.cid, commands.Confirm()),
                "delivered": lambda s: disputes.dispute(
                    s, b, self.cid, disputes.DisputeOpen(reason="late")
                ),
                "warranty": lambda s: disputes.dispute(
                    s, b, self.cid, disputes.DisputeOpen(reason="broke")
                ),
            }.get(status)
            if step is not None:
                self._try(status, None, step)

        def _state(self) -> tuple[str, int, int]:
            def read(s: Session) -> tuple[str, int, int]:
                c = s.get(Contract, self.cid)
                n = s.exec(
                    select(func.count()).select_from(Posting).where(Posting.contract_id == self.cid)
                ).one()
                p = s.exec(
                    select(func.count()).select_from(Payment).where(Payment.contract_id == self.cid)
                ).one()
                return c.status.value, n, p  # type: ignore[union-attr]

            return world.database.run_sync(read)

        def _try(self, move: str, key: str | None, fn: Any, *args: Any) -> None:
            before = self._state()
            replay = key is not None and self.keys.get(key) == move
            try:
                world.database.run_sync(fn, *args)
            except RfqError as exc:
                assert exc.code in EXPECTED, (exc.code, exc.message)
                assert self._state() == before  # a refusal writes nothing
                return
            if replay:
                assert self._state() == before
            if key is not None:
                self.keys.setdefault(key, move)

        @rule(who=_mostly("supplier"), key=KEY)
        def accept(self, who: str, key: str | None) -> None:
            self._try("accept", key, commands.accept, world.who[who], self.cid, key)

        @rule(who=_mostly("buyer"), key=KEY, accepted=st.sampled_from([None, None, 0, 5, 8]))
        def confirm(self, who: str, key: str | None, accepted: int | None) -> None:
            body = commands.Confirm(key=key, quantity_accepted=accepted)
            self._try("confirm", key, commands.confirm, world.who[who], self.cid, body)

        @rule(who=_mostly("buyer"), key=KEY)
        def terminate(self, who: str, key: str | None) -> None:
            self._try("terminate", key, delivery.terminate, world.who[who], self.cid, key)

        @rule(who=_mostly("supplier"), key=KEY, days=st.integers(1, 5))
        def extension(self, who: str, key: str | None, days: int) -> None:
            body = delivery.ExtensionRequest(key=key, days=days, reason="strike at the port")
            self._try("extension", key, delivery.request_extension, world.who[who], self.cid, body)

        @rule(who=_mostly("buyer"), key=KEY, accept=st.booleans())
        def answer(self, who: str, key: str | None, accept: bool) -> None:
            body = delivery.ExtensionAnswer(key=key, accept=accept)
            move = "extension_answer"
            self._try(move, key, delivery.answer_extension, world.who[who], self.cid, body)

        @rule(move=st.sampled_from(["decline", "cancel"]), who=WHO, key=KEY, dice=st.integers(0, 3))
        def abandon(self, move: str, who: str, key: str | None, dice: int) -> None:
            if dice == 0:  # rarely: most examples should get as far as the money
                self._try(move, key, getattr(commands, move), world.who[who], self.cid, key)

        @rule(who=_mostly("supplier"), key=KEY, quantity=st.sampled_from([None, None, 3, 9]))
        def ship(self, who: str, key: str | None, quantity: int | None) -> None:
            body = commands.Ship(key=key, tracking="T", quantity=quantity)
            self._try("ship", key, commands.ship, world.who[who], self.cid, body)

        @rule(who=_mostly("buyer"), key=KEY, milestone=st.sampled_from([None, 0, 1]))
        def release(self, who: str, key: str | None, milestone: int | None) -> None:
            body = commands.Release(key=key, milestone=milestone)
            move = "release" if milestone is None else "milestone"
            self._try(move, key, commands.release, world.who[who], self.cid, body)

        @rule(who=_mostly("buyer"), key=KEY, kind=st.sampled_from([None, *DisputeKind]))
        def dispute(self, who: str, key: str | None, kind: DisputeKind | None) -> None:
            body = disputes.DisputeOpen(key=key, reason="damaged", kind=kind)
            self._try("dispute", key, disputes.dispute, world.who[who], self.cid, body)

        @rule(who=_mostly("buyer"))
        def fund(self, who: str) -> None:
            def both(s: Session) -> None:
                commands.request_funding(s, world.who[who], self.cid, None)

            self._try("fund", None, both)

        @rule(who=_mostly("operator"))
        def confirm_payments(self, who: str) -> None:
            def confirm(s: Session) -> None:
                for p in s.exec(select(Payment).where(Payment.contract_id == self.cid)).all():
                    commands.confirm_payment(s, world.who[who], p.id or 0)

            self._try("pay", None, confirm)

        @rule(
            outcome=st.sampled_from(["release", "refund", "split"]),
            share=st.integers(0, 12_000),
            key=KEY,
        )
        def resolve(self, outcome: str, share: int, key: str | None) -> None:
            def ruling(s: Session) -> None:
                row = s.exec(
                    select(model.Dispute).where(model.Dispute.contract_id == self.cid)
                ).first()
                if row is None:
                    raise Conflict("none", code="no_dispute")
                held = escrow.position(s, self.cid).held
                body = disputes.Resolution(
                    outcome=outcome,
                    supplier_amount=held * share // 10_000,
                    note="ruled",
                    key=key,  # type: ignore[arg-type]
                )
                disputes.resolve(s, world.who["operator"], row.id or 0, body)

            self._try("resolve", key, ruling)

        @rule(days=st.integers(0, 5))
        def time_passes(self, days: int) -> None:
            later = clock.now() + timedelta(days=days)
            for timer in (commands.sweep, delivery.sweep_overdue, delivery.sweep_aftersale):
                world.database.run_sync(timer, later)

        @invariant()
        def ledger_balances(self) -> None:
            def check(s: Session) -> None:
                c = s.get(Contract, self.cid)
                assert c is not None
                sums = s.exec(
                    select(Posting.txn, func.sum(Posting.amount))
                    .where(Posting.contract_id == self.cid)
                    .group_by(Posting.txn)
                ).all()
                assert all(total == 0 for _, total in sums), sums
                pos = escrow.position(s, self.cid)
                assert pos.held == pos.funded - pos.released - pos.refunded >= 0
                assert pos.funded in (0, c.total)
                if c.status in (
                    ContractStatus.released,
                    ContractStatus.refunded,
                    ContractStatus.settled,
                ):
                    assert pos.held == 0 and pos.funded == c.total
                if c.status in (ContractStatus.offered, ContractStatus.awaiting_funding):
                    assert pos.funded == 0
                if c.status is ContractStatus.warranty:  # only the retention is held
                    assert 0 < pos.held <= c.total * c.retention_bps // escrow.BPS
                paid_for = (
                    ContractStatus.released,
                    ContractStatus.settled,
                    ContractStatus.warranty,
                )
                ruled = s.exec(
                    select(model.Dispute).where(model.Dispute.contract_id == c.id)
                ).first()
                if c.quantity_accepted is not None and c.status in paid_for and ruled is None:
                    # never paid more than what was accepted, unless milestones paid before
                    shares = escrow.milestone_amounts(c.total, [m["bps"] for m in c.milestones])
                    early = sum(
                        amount
                        for i, amount in enumerate(shares[:-1])
                        if escrow.posted(s, f"c{c.id}:milestone:{i}")
                    )
                    assert pos.released <= max(c.unit_price * c.quantity_accepted, early)
                confirmed = s.exec(
                    select(func.sum(Payment.amount)).where(
                        Payment.contract_id == self.cid,
                        Payment.kind == model.PaymentKind.funding,
                        Payment.status == PaymentStatus.confirmed,
                    )
                ).one()
                assert int(confirmed or 0) == pos.funded

            world.database.run_sync(check)

    Escrow.TestCase.settings = settings(
        max_examples=60,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    Escrow.TestCase().runTest()


def test_every_contract_move_is_in_the_table() -> None:
    """The documented happy paths exist in the contract machine."""
    s = ContractStatus
    path = ["accept", "fund", "ship", "confirm", "release"]
    state = s.offered
    for move in path:
        state = MOVES[(state, move)]
    assert state is s.released
    assert MOVES[(s.disputed, "resolve_split")] is s.settled
