"""Matching purchase needs to certified suppliers, and the operators' supply/demand view.

On publishing, every supplier with an approved certification is matched when one of
its categories covers the RFQ's category (a parent covers its subcategories and the
other way round), or when one of its keywords appears in the RFQ's title, keywords,
description, or its lots' names and specifications (substring match, so Chinese
text works without word splitting). Each match is invited and notified in the app and
by email. Nobody else is.
"""

from __future__ import annotations

from sqlmodel import Session, select

from rfq import categories, notifications, participation
from rfq.certification import Certification, CertStatus
from rfq.participation import Source
from rfq.rfq_tables import Rfq


def matches(cert: Certification, rfq: Rfq, text: str) -> bool:
    """True if the certified supplier fits the RFQ by category, or by a keyword in ``text``."""
    if categories.matches(cert.categories, rfq.category):
        return True
    return any(keyword in text for keyword in cert.keywords)


def match_and_invite(session: Session, rfq: Rfq, lot_texts: list[str]) -> list[int]:
    """Invite and notify every matching approved supplier; return their company ids.

    ``lot_texts`` are the lots' names and specifications, searched for keywords too.
    """
    approved = session.exec(
        select(Certification).where(Certification.status == CertStatus.approved)
    ).all()
    text = " ".join([rfq.title, rfq.description, *rfq.keywords, *lot_texts]).lower()
    fits = {c.company_id for c in approved if matches(c, rfq, text)}
    matched = sorted(fits - {rfq.buyer_company_id})
    for company_id in matched:
        participation.add(session, rfq, company_id, Source.matched)
        notifications.notify_company(
            session,
            company_id,
            "rfq_matched",
            f"New RFQ in your categories: {rfq.title}",
            f"Bidding opens {rfq.starts_at.isoformat()}.",
            rfq_id=rfq.id,
        )
    notify_invited(session, rfq, set(matched))
    return matched


def notify_invited(session: Session, rfq: Rfq, told: set[int] | None = None) -> None:
    """Tell the suppliers invited to a draft, now published (but those in ``told``)."""
    for row in participation.of_rfq(session, rfq.id or 0):
        if row.source is Source.invited and row.company_id not in (told or set()):
            notifications.notify_company(
                session,
                row.company_id,
                "rfq_invitation",
                f"You are invited to bid: {rfq.title}",
                rfq_id=rfq.id,
            )
