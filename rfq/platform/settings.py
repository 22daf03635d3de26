"""Settings: the ``RFQ_*`` environment variables, read and validated in one place.

| variable              | default                                                     |
| --------------------- | ----------------------------------------------------------- |
| ``RFQ_DATA_DIR``      | ``./.rfq``                                                  |
| ``RFQ_DATABASE_URL``  | ``sqlite:///<data dir>/rfq.sqlite3``                        |
| ``RFQ_REDIS_URL``     | unset: the app starts its own Redis server in the data dir  |
| ``RFQ_SECRET_KEY``    | generated once and kept in ``<data dir>/secret_key``        |
| ``RFQ_ALLOWED_ORIGINS`` | the app's own origin (comma-separated list to add others) |
| ``RFQ_REDIS_PREFIX``  | ``rfq:`` (the start of every Redis key the app writes)      |
| ``RFQ_REGISTER_PER_HOUR`` | ``20`` registrations per client address per hour        |
| ``RFQ_BIDS_PER_SECOND`` | ``4`` bids per second per supplier and auction, 2 s burst |
| ``RFQ_PLATFORM_FEE_BPS`` | ``0``: the platform's fee on released escrow, in basis points |
| ``RFQ_INSPECTION_DAYS`` | ``7``: days a buyer has to inspect goods before they count as accepted |
| ``RFQ_DEPOSIT_REQUIRED`` | ``2000000``: the deposit (CNY minor units) to hold before a first RFQ |
| ``RFQ_SMTP_URL``      | unset: outbox only recorded; an ``smtp(s)://`` URL sends it |
| ``RFQ_SMTP_FROM``     | ``RFQ Arena <noreply@localhost>``                            |

A bad value raises :class:`SettingsError` whose message names the variable.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

_DATABASE_SCHEMES = ("sqlite", "postgresql+psycopg", "postgresql")
_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster")


class SettingsError(ValueError):
    """A setting has a value the app cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The app's configuration, immutable once read."""

    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    allowed_origins: tuple[str, ...]
    redis_prefix: str = "rfq:"
    register_per_hour: int = 20
    bids_per_second: int = 4
    platform_fee_bps: int = 0
    inspection_days: int = 7
    smtp_url: str | None = None
    smtp_from: str = "RFQ Arena <noreply@localhost>"
    deposit_required: int = 2_000_000
    suspend_after_declines: int = 0
    """Suspend a supplier automatically at this many declined awards (0: never)."""
    suspend_after_lost_disputes: int = 0
    """Suspend a supplier automatically at this many disputes ruled against it (0: never)."""
    webhook_retry_s: int = 30
    """The first retry of a failed webhook delivery, in seconds (doubling after)."""
    webhook_private_hosts: bool = False
    """Allow webhook URLs on loopback and private networks (tests, an on-premises ERP)."""

    @property
    def embedded_redis(self) -> bool:
        """True when the app runs its own Redis server in the data dir."""
        return self.redis_url is None

    @property
    def is_sqlite(self) -> bool:
        """True when the database is an SQLite file."""
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings from ``environ`` (default: ``os.environ``)."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("RFQ_DATA_DIR") or ".rfq").expanduser().resolve()
        database_url = _database_url(env.get("RFQ_DATABASE_URL"), data_dir)
        redis_url = _redis_url(env.get("RFQ_REDIS_URL"))
        secret_key = _secret_key(env.get("RFQ_SECRET_KEY"), data_dir)
        origins = _origins(env.get("RFQ_ALLOWED_ORIGINS"))
        prefix = _prefix(env.get("RFQ_REDIS_PREFIX", "rfq:"))
        register = _count(env.get("RFQ_REGISTER_PER_HOUR"), "RFQ_REGISTER_PER_HOUR", 20)
        bids = _count(env.get("RFQ_BIDS_PER_SECOND"), "RFQ_BIDS_PER_SECOND", 4)
        fee = _whole(env.get("RFQ_PLATFORM_FEE_BPS"), "RFQ_PLATFORM_FEE_BPS", 0, 10_000)
        days = _whole(env.get("RFQ_INSPECTION_DAYS"), "RFQ_INSPECTION_DAYS", 7, 90)
        deposit = _whole(env.get("RFQ_DEPOSIT_REQUIRED"), "RFQ_DEPOSIT_REQUIRED", 2_000_000, 10**12)
        declines = _whole(
            env.get("RFQ_SUSPEND_AFTER_DECLINES"), "RFQ_SUSPEND_AFTER_DECLINES", 0, 1000
        )
        lost = _whole(
            env.get("RFQ_SUSPEND_AFTER_LOST_DISPUTES"), "RFQ_SUSPEND_AFTER_LOST_DISPUTES", 0, 1000
        )
        retry = _whole(env.get("RFQ_WEBHOOK_RETRY_S"), "RFQ_WEBHOOK_RETRY_S", 30, 3600)
        private = env.get("RFQ_WEBHOOK_PRIVATE_HOSTS", "") in ("1", "true", "yes")
        return cls(
            data_dir,
            database_url,
            redis_url,
            secret_key,
            origins,
            prefix,
            register,
            bids,
            fee,
            days,
            deposit_required=deposit,
            suspend_after_declines=declines,
            suspend_after_lost_disputes=lost,
            webhook_retry_s=max(1, retry),
            webhook_private_hosts=private,
        )


def _database_url(value: str | None, data_dir: Path) -> str:
    if not value:
        return f"sqlite:///{data_dir / 'rfq.sqlite3'}"
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in _DATABASE_SCHEMES:
        raise SettingsError(
            f"RFQ_DATABASE_URL must start with sqlite:/// or postgresql+psycopg://, got {value!r}."
        )
    if scheme == "postgresql":
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def _redis_url(value: str | None) -> str | None:
    if not value:
        return None
    scheme = urlsplit(value).scheme
    if scheme not in _REDIS_SCHEMES:
        raise SettingsError(
            "RFQ_REDIS_URL must be a redis://, rediss://, unix:// or redis+cluster:// URL, "
            f"got {value!r}."
        )
    return value


def _secret_key(value: str | None, data_dir: Path) -> str:
    if value:
        if len(value) < 32:
            raise SettingsError("RFQ_SECRET_KEY must be at least 32 characters long.")
        return value
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _origins(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise SettingsError(
                f"RFQ_ALLOWED_ORIGINS entries must look like https://host[:port], got {origin!r}."
            )
    return origins


def _prefix(value: str) -> str:
    if not value or any(c in value for c in "{} \t\n") or len(value) > 64:
        raise SettingsError(
            f"RFQ_REDIS_PREFIX must be 1 to 64 characters without braces or spaces, got {value!r}."
        )
    return value


def _count(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= 1_000_000:
        raise SettingsError(f"{name} must be a whole number from 1 to 1000000, got {value!r}.")
    return int(value)


def _whole(value: str | None, name: str, default: int, most: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) > most:
        raise SettingsError(f"{name} must be a whole number from 0 to {most}, got {value!r}.")
    return int(value)
