"""Workers whose clocks are wrong decide nothing by them: every script reads Redis's
clock (``TIME``), and the scheduler asks Redis what time it is.

Two ``rfq serve`` workers run under libfaketime, one 3 s ahead and one 3 s behind, next
to a worker with the true clock, all on the same SQLite file and Redis. A bid through
the fast worker 1.5 s before the end is accepted (by its own clock the auction ended
1.5 s ago, and its scheduler would have closed it early); a bid through the slow worker
just after the end is refused ``auction_not_live`` (by its clock 2.5 s were left), and
the lot closed at the end it was shown.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loadtests.processes import free_port
from rfq.platform import db
from tests.conftest import REDIS_URL, make_settings
from tests.support import (
    bearer,
    certified_supplier,
    live_auction,
    operator_token,
    place_bid,
    register,
    rfq_process,
    run_server,
    wait_for,
)

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

pytestmark = pytest.mark.skipif(
    not os.path.exists(LIBFAKETIME) or shutil.which("faketime") is None,
    reason="libfaketime is not installed (.ci/run installs it)",
)


@contextlib.contextmanager
def _skewed(offset: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """``rfq serve`` with its clock moved by ``offset`` (libfaketime's ``+3s``/``-3s``)."""
    port = free_port()
    skew = {**env, "LD_PRELOAD": LIBFAKETIME, "FAKETIME": offset, "FAKETIME_DONT_RESET": "1"}
    with rfq_process(["serve", "--port", str(port)], skew, log) as process:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            return process.poll() is not None

        wait_for(ready, 60, f"the worker {offset}")
        assert process.poll() is None, log.read_text()
        yield url


def test_a_worker_with_a_wrong_clock_neither_closes_early_nor_accepts_late(
    tmp_path: Path, redis_prefix: str
) -> None:
    url = f"sqlite:///{tmp_path / 'rfq.sqlite3'}"
    db.upgrade(url)
    prefix = f"{redis_prefix}skew:"
    settings = make_settings(tmp_path / "data", url, prefix)
    env = {
        "RFQ_DATA_DIR": str(tmp_path / "data"),
        "RFQ_DATABASE_URL": url,
        "RFQ_REDIS_URL": REDIS_URL,
        "RFQ_REDIS_PREFIX": prefix,
        "RFQ_SECRET_KEY": settings.secret_key,
        "RFQ_BIDS_PER_SECOND": "1000",
    }
    with (
        run_server(settings) as live,
        httpx.Client(base_url=live.url, timeout=30) as client,
        _skewed("+3s", env, tmp_path / "fast.log") as fast,
        _skewed("-3s", env, tmp_path / "slow.log") as slow,
    ):
        buyer = register(client, "buyer")
        supplier = certified_supplier(client, operator_token(live), ["fasteners"])
        auction = live_auction(client, buyer, seconds=8)
        auth = bearer(buyer["token"])
        ends_ms = client.get(f"/api/auctions/{auction}", headers=auth).json()["ends_at_ms"]
        assert place_bid(client, supplier, auction, 110, "first").status_code == 201

        time.sleep(max(0.0, (ends_ms - 1_500) / 1000 - time.time()))
        with httpx.Client(base_url=fast, timeout=30) as through_fast:
            early = place_bid(through_fast, supplier, auction, 105, "early")
            state = through_fast.get(f"/api/auctions/{auction}", headers=auth).json()
        assert early.status_code == 201, early.text  # 1.5 s left by Redis's clock
        assert state["state"] == "live"

        time.sleep(max(0.0, (ends_ms + 300) / 1000 - time.time()))
        with httpx.Client(base_url=slow, timeout=30) as through_slow:
            late = place_bid(through_slow, supplier, auction, 100, "late")
        assert late.status_code == 409, late.text  # the end passed by Redis's clock
        assert late.json()["error"]["code"] == "auction_not_live"

        closed = wait_for(
            lambda: (
                (s := client.get(f"/api/auctions/{auction}", headers=auth).json())["state"]
                == "closed"
                and s
            ),
            10,
            "the close",
        )
        assert closed["ends_at_ms"] == ends_ms  # closed at the end bidders were shown
        prices = [
            b["price"] for b in client.get(f"/api/auctions/{auction}/bids", headers=auth).json()
        ]
        assert prices == [110, 105]
