"""Prometheus metrics: what each worker counts, and the text `GET /metrics` serves.

With ``rfq serve --workers N`` (N > 1) the parent sets ``PROMETHEUS_MULTIPROC_DIR`` to
an empty folder in the data dir before the workers start; each worker then writes its
values to files there and `render` sums every worker's (prometheus_client's
multiprocess mode). With one worker, or an app built in-process, the values live in
this process's default registry.

Nothing here is labelled by auction, company or user: the series count is fixed and
no figure names a participant.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

BIDS = Counter(
    "rfq_bids",
    "Bids and clock acceptances answered, by outcome (accepted, rejected) and code.",
    ["outcome", "code"],
)
ACK_SECONDS = Histogram(
    "rfq_bid_answer_seconds",
    "From a bid reaching the desk to its durable acknowledgement or its rejection.",
    ["outcome"],
    buckets=_FAST,
)
CONNECTIONS = Gauge(
    "rfq_ws_connections", "Open websocket connections.", multiprocess_mode="livesum"
)
DELIVERIES = Counter("rfq_ws_frames_sent", "Frames written to websocket clients.")
COALESCED = Counter("rfq_ws_coalesced", "Backlogs of a slow client replaced by one fresh snapshot.")
SLOW_CLOSED = Counter(
    "rfq_ws_slow_clients_closed", "Connections closed because the client read too slowly."
)
REDIS_SECONDS = Histogram(
    "rfq_redis_script_seconds", "Time of one engine script call.", ["script"], buckets=_FAST
)
SQL_SECONDS = Histogram(
    "rfq_sql_seconds",
    "Time of one unit of SQL work: a journal batch commit, a request's transaction, a read.",
    ["work"],
    buckets=_FAST,
)


_ANSWERED: dict[str | None, tuple[Any, Any]] = {}
"""Each answer code's counter and histogram (a labelled metric's lookup takes a lock)."""


def bid_answered(code: str | None, seconds: float) -> None:
    """Count one answered bid: ``code`` None when it was accepted."""
    metrics = _ANSWERED.get(code)
    if metrics is None:
        outcome = "accepted" if code is None else "rejected"
        metrics = BIDS.labels(outcome, code or ""), ACK_SECONDS.labels(outcome)
        _ANSWERED[code] = metrics
    metrics[0].inc()
    metrics[1].observe(seconds)


def render() -> tuple[bytes, str]:
    """The exposition text of every worker's metrics, and its content type."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    """Drop a stopped worker's live gauges (its counters keep counting in the sums)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
