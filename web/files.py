"""``POST /api/files`` (multipart upload) and ``GET /api/files/{id}`` (download)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse

from rfq import files
from rfq.access import require_login
from rfq.files import FilePublic
from rfq.platform.errors import Invalid
from web.errors import PayloadTooLarge, UnsupportedMediaType
from web.routing import Call, api

_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file


@api("POST", "/api/files", response=FilePublic, status=201, upload="file")
async def upload(call: Call[Any]) -> Any:
    """Upload a PDF, PNG or JPEG document (multipart field ``file``, at most 10 MB)."""
    caller = require_login(call.principal)
    request = call.request
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedMediaType("Upload the file as multipart/form-data, field 'file'.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > files.MAX_BYTES + _OVERHEAD:
        raise PayloadTooLarge(f"Files may be at most {files.MAX_BYTES // (1024 * 1024)} MB.")
    async with request.form(max_files=1, max_fields=5) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("Send the file in the multipart field 'file'.", field="file")
        content = await upload.read(files.MAX_BYTES + 1)
        name = upload.filename or "upload"
    settings = call.state.settings
    file_id, content_type, digest = files.store(settings.data_dir, content)

    def work(session: Session) -> FilePublic:
        row = files.record(session, caller, file_id, name, content_type, len(content), digest)
        return files.public(row)

    return await call.state.db.run(work)


@api("GET", "/api/files/{file_id}")
async def download(call: Call[Any]) -> Any:
    """Download a file: its company's members and operators only."""
    row = await call.state.db.run(files.get, call.principal, call.path["file_id"])
    return send(call, row)


def send(call: Call[Any], row: files.StoredFile) -> FileResponse:
    """A stored file as an attachment that is never sniffed or cached."""
    return FileResponse(
        files.path_of(call.state.settings.data_dir, row),
        media_type=row.content_type,
        filename=row.name,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )


ROUTES = [upload, download]
