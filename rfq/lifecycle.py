"""The RFQ lifecycle: one table of allowed moves, every move on the record.

::

    draft --publish--> published --open--> live --close--> closed --award----> awarded
                                                                  --no_award-> no_award
    draft | published | live --cancel--> cancelled

``open`` and ``close`` are made by the auction scheduler (the first lot goes live; the
last lot closes); the others by the buyer (operators may cancel too).
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import Session

from rfq import history
from rfq.platform.statemachine import transition


class RfqStatus(StrEnum):
    draft = "draft"
    published = "published"
    live = "live"
    closed = "closed"
    awarded = "awarded"
    no_award = "no_award"
    cancelled = "cancelled"


MOVES: dict[tuple[RfqStatus, str], RfqStatus] = {
    (RfqStatus.draft, "publish"): RfqStatus.published,
    (RfqStatus.published, "open"): RfqStatus.live,
    (RfqStatus.live, "close"): RfqStatus.closed,
    (RfqStatus.closed, "award"): RfqStatus.awarded,
    (RfqStatus.closed, "no_award"): RfqStatus.no_award,
    (RfqStatus.draft, "cancel"): RfqStatus.cancelled,
    (RfqStatus.published, "cancel"): RfqStatus.cancelled,
    (RfqStatus.live, "cancel"): RfqStatus.cancelled,
}

OPEN_TO_BIDDERS = (RfqStatus.published, RfqStatus.live)


def move(
    session: Session,
    rfq_id: int,
    status: RfqStatus,
    name: str,
    actor_id: int | None,
    note: str = "",
) -> RfqStatus:
    """The status after move ``name``, put on the record; ``IllegalTransition`` if not allowed."""
    new = transition(MOVES, "RFQ", status, name)
    history.record(session, "rfq", rfq_id, name, status.value, new.value, actor_id, note)
    return new
