"""Running the app as a process for a benchmark or a load test: ``rfq serve`` with an
operator account (:func:`served`), a free port, the open file limit, and waiting until
the app answers."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import httpx


def raise_file_limit() -> None:
    """Allow this process (and its children) as many open files as the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(url: str, app: subprocess.Popen[bytes]) -> None:
    """Wait (at most 60 s) until ``url`` answers 200; raise if ``app`` exits first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise RuntimeError("the app exited during startup; see its log")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("the app did not become ready in 60 s")


class Served(NamedTuple):
    """A running ``rfq serve``: its URL, an operator's credentials, the process id."""

    url: str
    email: str
    password: str
    pid: int


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and every live descendant (``rfq serve --workers N``)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    family, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    total = 0.0
    for member in family:
        with contextlib.suppress(OSError):
            total += cpu_seconds(member)
    return total


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def served(
    data_dir: Path,
    log_path: Path,
    *,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
) -> Iterator[Served]:
    """``rfq serve`` on a free port of 127.0.0.1, on its own data dir (and embedded Redis
    unless ``env`` names one), with a new operator account; yields the URL, the
    operator's email and password and the process id, and stops the app afterwards."""
    full = {
        **os.environ,
        "RFQ_DATA_DIR": str(data_dir),
        "RFQ_REDIS_URL": "",
        "RFQ_REGISTER_PER_HOUR": "100000",
        **(env or {}),
    }
    email, password = f"operator-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex
    rfq = [sys.executable, "-m", "rfq"]
    subprocess.run([*rfq, "db", "upgrade"], env=full, check=True, capture_output=True)
    subprocess.run(
        [*rfq, "admin", "create", "--email", email, "--password", password],
        env=full,
        check=True,
        capture_output=True,
    )
    port = free_port()
    with log_path.open("wb") as log:
        app = subprocess.Popen(
            [*rfq, "serve", "--workers", str(workers), "--port", str(port)],
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        host = f"http://127.0.0.1:{port}"
        try:
            wait_ready(f"{host}/readyz", app)
            yield Served(host, email, password, app.pid)
        finally:
            app.terminate()
            try:
                app.wait(30)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()


def percentile(values: list[float], pct: int) -> float:
    """The ``pct``-th percentile of ``values`` (inclusive method); 0 for none."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]
