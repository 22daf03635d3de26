"""Certification endpoints: suppliers apply, operators review."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from rfq import certification
from rfq.certification import (
    Appeal,
    CertificationCreate,
    CertificationPublic,
    CertStatus,
    Decision,
)
from web.routing import Call, api, query_enum


@api(
    "POST", "/api/certification", body=CertificationCreate, response=CertificationPublic, status=201
)
async def apply(call: Call[CertificationCreate]) -> Any:
    """A supplier applies for certification with its code, categories and documents."""

    def work(session: Session) -> CertificationPublic:
        cert = certification.apply(session, call.principal, call.body)
        return certification.public(session, cert)

    return await call.state.db.run(work)


@api("GET", "/api/certification", response=CertificationPublic)
async def mine(call: Call[Any]) -> Any:
    """The caller's company's latest certification application."""

    def work(session: Session) -> CertificationPublic:
        return certification.public(session, certification.mine(session, call.principal))

    return await call.state.db.run(work)


@api("GET", "/api/admin/certifications", response=list[CertificationPublic])
async def review_queue(call: Call[Any]) -> Any:
    """Operators: applications in a status (``?status=``, default pending), oldest first."""
    status = query_enum(call.request, "status", CertStatus)

    def work(session: Session) -> list[CertificationPublic]:
        rows = certification.queue(session, call.principal, status)
        return [certification.public(session, c) for c in rows]

    return await call.state.db.run(work)


@api("GET", "/api/admin/certifications/{cert_id:int}", response=CertificationPublic)
async def one(call: Call[Any]) -> Any:
    """One application (its company's members and operators)."""

    def work(session: Session) -> CertificationPublic:
        cert = certification.get(session, call.principal, call.path["cert_id"])
        return certification.public(session, cert)

    return await call.state.db.run(work)


def _decision(move: str) -> Any:
    @api(
        "POST",
        f"/api/admin/certifications/{{cert_id:int}}/{move}",
        body=Decision,
        response=CertificationPublic,
    )
    async def decide(call: Call[Decision]) -> Any:
        """Operators approve, reject, suspend or reinstate a certification."""

        def work(session: Session) -> CertificationPublic:
            cert = certification.decide(
                session, call.principal, call.path["cert_id"], move, call.body
            )
            return certification.public(session, cert)

        done: CertificationPublic = await call.state.db.run(work)
        await call.state.desk.announce(done.company_id)  # a suspension counts at once
        return done

    return decide


@api("POST", "/api/certification/appeal", body=Appeal, response=CertificationPublic)
async def appeal(call: Call[Appeal]) -> Any:
    """A suspended supplier appeals against its suspension (one appeal waits at a time)."""

    def work(session: Session) -> CertificationPublic:
        return certification.public(
            session, certification.appeal(session, call.principal, call.body)
        )

    return await call.state.db.run(work)


@api(
    "POST",
    "/api/admin/certifications/{cert_id:int}/dismiss_appeal",
    body=Decision,
    response=CertificationPublic,
)
async def dismiss_appeal(call: Call[Decision]) -> Any:
    """Operators dismiss a pending appeal with a reason (the supplier stays suspended)."""

    def work(session: Session) -> CertificationPublic:
        cert = certification.dismiss_appeal(
            session, call.principal, call.path["cert_id"], call.body
        )
        return certification.public(session, cert)

    return await call.state.db.run(work)


ROUTES = [
    apply,
    mine,
    review_queue,
    one,
    *(_decision(m) for m in ("approve", "reject", "suspend", "reinstate")),
    appeal,
    dismiss_appeal,
]
