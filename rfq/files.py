"""Uploaded documents: PDF, PNG or JPEG, size-limited, stored in the data dir.

The type is decided by the file's first bytes, never by its name or the client's
``Content-Type``. Files are stored under ``<data dir>/files/`` by a random id, and are
readable only by the uploading company's members and operators.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy import Column
from sqlmodel import Field, Session, SQLModel

from rfq.access import require_member
from rfq.accounts import Principal
from rfq.platform import clock
from rfq.platform.db import UtcDateTime
from rfq.platform.errors import Invalid, NotFound

MAX_BYTES = 10 * 1024 * 1024

_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


class StoredFile(SQLModel, table=True):
    __tablename__ = "stored_file"

    id: str = Field(primary_key=True, max_length=32)
    company_id: int | None = Field(default=None, foreign_key="company.id", index=True)
    uploaded_by: int = Field(foreign_key="user.id")
    name: str = Field(max_length=200)
    content_type: str = Field(max_length=40)
    size: int
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class FilePublic(SQLModel):
    file_id: str
    name: str
    content_type: str
    size: int
    sha256: str


class FileTooLarge(Invalid):
    """The upload is over :data:`MAX_BYTES`."""

    code = "file_too_large"


def sniff(head: bytes) -> str:
    """The content type of a file from its first bytes, or ``Invalid`` if not allowed."""
    for magic, content_type in _SIGNATURES:
        if head.startswith(magic):
            return content_type
    raise Invalid("Upload a PDF, PNG or JPEG file.", code="unsupported_file_type", field="file")


def store(data_dir: Path, content: bytes) -> tuple[str, str, str]:
    """Write ``content`` under a new random id; return ``(id, content type, sha256)``."""
    if len(content) > MAX_BYTES:
        raise FileTooLarge(f"Files may be at most {MAX_BYTES // (1024 * 1024)} MB.", field="file")
    if not content:
        raise Invalid("The file is empty.", code="empty_file", field="file")
    content_type = sniff(content[:16])
    file_id = secrets.token_hex(16)
    folder = data_dir / "files"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file_id).write_bytes(content)
    return file_id, content_type, hashlib.sha256(content).hexdigest()


def record(
    session: Session,
    principal: Principal,
    file_id: str,
    name: str,
    content_type: str,
    size: int,
    digest: str,
) -> StoredFile:
    """Record a stored file as the caller's company's."""
    row = StoredFile(
        id=file_id,
        company_id=principal.company_id,
        uploaded_by=principal.user_id,
        name=_clean_name(name),
        content_type=content_type,
        size=size,
        sha256=digest,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def get(session: Session, principal: Principal | None, file_id: str) -> StoredFile:
    """The file's record if the caller may read it; others read as not found."""
    row = session.get(StoredFile, file_id) if len(file_id) == 32 else None
    if row is None:
        raise NotFound("No such file.")
    require_member(principal, row.company_id, "file")
    return row


def owned_by(session: Session, file_id: str, company_id: int | None) -> StoredFile:
    """The file if it belongs to ``company_id`` (for attaching it to that company's papers)."""
    row = session.get(StoredFile, file_id)
    if row is None or row.company_id != company_id:
        raise Invalid(f"No uploaded file {file_id!r} of yours.", code="unknown_file")
    return row


def path_of(data_dir: Path, row: StoredFile) -> Path:
    """Where the file's bytes are."""
    return data_dir / "files" / row.id


def public(row: StoredFile) -> FilePublic:
    """What the API says about a file."""
    return FilePublic(
        file_id=row.id,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
    )


def _clean_name(name: str) -> str:
    base = Path(name or "upload").name
    cleaned = "".join(c for c in base if c.isprintable() and c not in '"\\/')
    return (cleaned or "upload")[:200]
