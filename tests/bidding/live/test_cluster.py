"""A whole auction through a 3-node Redis Cluster that the test starts on its own ports.

Every key of an auction shares the hash tag ``{a:<id>}``, so each Lua script runs in one
slot; the app talks to the cluster through ``RFQ_REDIS_URL=redis+cluster://...``.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis
from redis.cluster import RedisCluster
from websockets.sync.client import connect

from tests.conftest import make_settings
from tests.support import (
    REDIS_SERVER,
    bearer,
    certified_supplier,
    operator_token,
    register,
    rfq_body,
    run_server,
    wait_for,
)

REDIS_CLI = shutil.which("redis-cli") or "redis-cli"


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is valid and free too."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20_000, 45_000)
        if all(_free(p) for p in (port, port + 10_000)):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def cluster(folder: Path) -> Iterator[list[int]]:
    """Three masters on free ports, joined into one cluster; stopped by PID."""
    ports = [_cluster_port() for _ in range(3)]
    processes = []
    try:
        for port in ports:
            node = folder / str(port)
            node.mkdir(parents=True)
            processes.append(
                subprocess.Popen(
                    [
                        REDIS_SERVER,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--dir",
                        str(node),
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--appendonly",
                        "no",
                        "--save",
                        "",
                        "--logfile",
                        str(node / "redis.log"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in ports:
            client = redis.Redis(port=port, socket_connect_timeout=1)
            wait_for(lambda c=client: _pings(c), 20, "a cluster node")
            client.close()
        created = subprocess.run(
            [
                REDIS_CLI,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        probe = RedisCluster(host="127.0.0.1", port=ports[0])
        wait_for(lambda: probe.cluster_info().get("cluster_state") == "ok", 30, "cluster ok")
        probe.close()
        yield ports
    finally:
        for process in processes:
            process.kill()
            process.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.mark.timeout(240)
def test_whole_auction_through_a_redis_cluster(tmp_path: Path) -> None:
    """Publish, open, bid, extend and close auctions with the engine on a 3-node cluster,
    watched live over one websocket (the hub reads streams of several slots)."""
    with cluster(tmp_path / "cluster") as ports:
        settings = make_settings(
            tmp_path / "data",
            f"sqlite:///{tmp_path / 'rfq.sqlite3'}",
            "rfqtest:cluster:",
            redis_url=f"redis+cluster://127.0.0.1:{ports[0]}",
        )
        with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
            operator = operator_token(live)
            buyer = register(client, "buyer")
            a = certified_supplier(client, operator, ["fasteners"])
            b = certified_supplier(client, operator, ["fasteners"])
            auth = bearer(buyer["token"])
            ids = []
            for _ in range(3):  # several auctions, so their keys spread over the slots
                start = datetime.now(UTC) + timedelta(seconds=1.5)
                body = rfq_body()
                body["starts_at"] = start.isoformat()
                body["ends_at"] = (start + timedelta(seconds=4)).isoformat()
                body["lots"][0]["rules"]["soft_close"] = {
                    "window_s": 60,
                    "extend_s": 8,
                    "trigger": "any",
                    "max_extensions": 1,
                }
                rfq = client.post("/api/rfqs", json=body, headers=auth).json()
                published = client.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth).json()
                ids.append(published["lots"][0]["auction_id"])
            for auction_id in ids:
                wait_for(
                    lambda i=auction_id: (
                        client.get(f"/api/auctions/{i}", headers=auth).json()["state"] == "live"
                    ),
                    15,
                    "open",
                )
            ws_url = live.url.replace("http", "ws") + "/ws"
            seen: dict[int, list[int]] = {i: [] for i in ids}
            with connect(ws_url, additional_headers=auth) as watcher:
                for auction_id in ids:  # the hub reads streams that live in different slots
                    watcher.send(json.dumps({"op": "subscribe", "auction": auction_id}))
                snapshots = 0
                while snapshots < len(ids):
                    snapshots += json.loads(watcher.recv(timeout=15))["type"] == "snapshot"
                for auction_id in ids:
                    first = client.post(
                        f"/api/auctions/{auction_id}/bids",
                        json={"price": 110, "key": "1"},
                        headers=bearer(a["token"]),
                    )
                    assert first.status_code == 201, first.text
                    assert first.json()["extended"] is True
                    second = client.post(
                        f"/api/auctions/{auction_id}/bids",
                        json={"price": 100, "key": "2"},
                        headers=bearer(b["token"]),
                    )
                    assert second.json()["rank"] == 1
                    again = client.post(
                        f"/api/auctions/{auction_id}/bids",
                        json={"price": 110, "key": "1"},
                        headers=bearer(a["token"]),
                    )
                    assert again.json()["replay"] is True
                while any(len(prices) < 2 for prices in seen.values()):
                    frame = json.loads(watcher.recv(timeout=15))
                    if frame["type"] == "bid":
                        seen[frame["auction"]].append(frame["price"])
            assert all(prices == [110, 100] for prices in seen.values()), seen
            for auction_id in ids:
                wait_for(
                    lambda i=auction_id: (
                        client.get(f"/api/auctions/{i}", headers=auth).json()["state"] == "closed"
                    ),
                    20,
                    "close",
                )
                state = client.get(f"/api/auctions/{auction_id}", headers=auth).json()
                assert [e["price"] for e in state["ladder"]] == [100, 110]
                log = client.get(f"/api/auctions/{auction_id}/audit", headers=auth).json()
                assert log["verified"] and [e["kind"] for e in log["entries"]].count("closed") == 1
            slots = {
                RedisCluster.keyslot(
                    RedisCluster(host="127.0.0.1", port=ports[0]), f"rfqtest:cluster:{{a:{i}}}:m"
                )
                for i in ids
            }
            assert len(slots) == len(ids)
