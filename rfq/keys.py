"""Every Redis key name the project uses, built in this one module.

All keys start with the configured prefix (``RFQ_REDIS_PREFIX``, default ``rfq:``), so
several apps or test runs can share one Redis server without touching each other's
data. Keys that one Lua script touches together share a hash tag (``{...}``) so the
script stays inside one Redis Cluster slot.

| pattern                         | type   | what                                        |
| ------------------------------- | ------ | ------------------------------------------- |
| ``<p>rl:{<scope>:<id>}``        | string | rate-limit state (GCRA theoretical arrival) |
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    """Builds key names under one prefix."""

    prefix: str = "rfq:"

    def rate_limit(self, scope: str, subject: str) -> str:
        """The rate-limit key for ``subject`` (hashed, so emails and IPs never appear raw)."""
        digest = hashlib.sha256(subject.encode()).hexdigest()[:24]
        return f"{self.prefix}rl:{{{scope}:{digest}}}"
