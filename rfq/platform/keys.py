"""Every Redis key name the project uses, built in this one module.

All keys start with the configured prefix (``RFQ_REDIS_PREFIX``, default ``rfq:``), so
several apps or test runs can share one Redis server without touching each other's
data. Keys that one Lua script touches together share a hash tag (``{...}``) so the
script stays inside one Redis Cluster slot.

| pattern              | type   | what                                                      |
| -------------------- | ------ | --------------------------------------------------------- |
| ``<p>rl:{<scope>:<h>}`` | string | login/registration rate limit (GCRA arrival time)      |
| ``<p>{a:<id>}:m``    | hash   | an auction's live state and rules (status, ends, seq...)  |
| ``<p>{a:<id>}:lad``  | zset   | standing bids: ``<seq:012>:<company>`` by transformed price |
| ``<p>{a:<id>}:st``   | hash   | company -> its standing bid (msgpack)                     |
| ``<p>{a:<id>}:tf``   | hash   | company -> ``multiplier_bps:adder`` ranking transform     |
| ``<p>{a:<id>}:px``   | hash   | company -> proxy floor (private)                          |
| ``<p>{a:<id>}:idem`` | hash   | ``<company>:<key>`` -> the first outcome (msgpack)        |
| ``<p>{a:<id>}:rl``   | hash   | company -> bid rate-limit state (GCRA arrival time)       |
| ``<p>{a:<id>}:ev``   | stream | public events (``seq``, ``d``: msgpack) as decided, capped |
| ``<p>{a:<id>}:fo``   | stream | the same events once they are in SQL: what is fanned out  |
| ``<p>{a:<id>}:au``   | stream | audit records, accepted and rejected, capped              |
| ``<p>sched``         | zset   | auction id -> the next time the scheduler must look at it |
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AuctionKeys:
    """The keys of one auction; they share the hash tag ``{a:<id>}``."""

    meta: str
    ladder: str
    standing: str
    transforms: str
    proxies: str
    idempotency: str
    rate: str
    events: str
    audit: str
    fanout: str

    def all(self) -> list[str]:
        """Every key, in the order the Lua scripts take them."""
        return [
            self.meta,
            self.ladder,
            self.standing,
            self.transforms,
            self.proxies,
            self.idempotency,
            self.rate,
            self.events,
            self.audit,
            self.fanout,
        ]


@dataclass(frozen=True, slots=True)
class Keys:
    """Builds key names under one prefix."""

    prefix: str = "rfq:"

    def auction(self, auction_id: int) -> AuctionKeys:
        """The keys of one auction."""
        base = f"{self.prefix}{{a:{auction_id}}}:"
        names = ("m", "lad", "st", "tf", "px", "idem", "rl", "ev", "au", "fo")
        return AuctionKeys(*(base + name for name in names))

    @property
    def schedule(self) -> str:
        """The scheduler's due-time index of auctions."""
        return f"{self.prefix}sched"

    @property
    def eligibility(self) -> str:
        """The pub/sub channel on which a worker tells the others that a company's
        eligibility changed (a suspension), so they forget what they cached."""
        return f"{self.prefix}eligibility"

    def rate_limit(self, scope: str, subject: str) -> str:
        """The rate-limit key for ``subject`` (hashed, so emails and IPs never appear raw)."""
        digest = hashlib.sha256(subject.encode()).hexdigest()[:24]
        return f"{self.prefix}rl:{{{scope}:{digest}}}"
