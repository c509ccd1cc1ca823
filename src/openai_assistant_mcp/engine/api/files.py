"""/v1/files and /v1/uploads: multipart bodies are spooled to temporary files by the parser and
streamed from there into the store, so no request holds a whole file in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData, UploadFile

from ...http.bodies import BodyRefused
from ..errors import invalid
from ..services import files, uploads
from ..services.common import ListQuery
from .deps import CallerDep, State

router = APIRouter()

READ_BYTES = files.CHUNK_BYTES


async def _form(request: Request, file_field: str, fields: int) -> FormData:
    """The multipart form with one file, refusing anything else with a named cause."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise invalid(file_field, "The body must be multipart/form-data.")
    try:
        return await request.form(max_files=1, max_fields=fields)
    except BodyRefused:
        raise  # the guard's 413/408 (over the route's cap, too slow), not a malformed body
    except Exception as exc:  # the parser's errors (limits, malformed parts) name the cause
        raise invalid(file_field, f"Invalid multipart body: {exc}.") from None


def _file(form: FormData, name: str) -> UploadFile:
    value = form.get(name)
    if not isinstance(value, UploadFile):
        raise invalid(name, f"Missing required parameter: '{name}' (a file part).")
    return value


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        raise invalid(name, f"Missing required parameter: '{name}'.")
    return value


async def _read(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(READ_BYTES):
        yield chunk


def _expires_after(form: FormData) -> dict[str, Any] | None:
    anchor, seconds = form.get("expires_after[anchor]"), form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    if not isinstance(seconds, str) or not seconds.strip().lstrip("-").isdigit():
        raise invalid("expires_after.seconds", "Invalid 'expires_after.seconds': an integer.")
    return {"anchor": anchor, "seconds": int(seconds)}


@router.post("/files")
async def create_file(request: Request, state: State, caller: CallerDep) -> Any:
    form = await _form(request, "file", fields=4)
    try:
        purpose = _text(form, "purpose")
        upload = _file(form, "file")
        return await files.create_file(
            state,
            caller.tenant,
            upload.filename or "",
            purpose,
            _read(upload),
            expires_after=_expires_after(form),
            size=upload.size,
        )
    finally:
        await form.close()


@router.get("/files")
async def list_files(
    state: State,
    caller: CallerDep,
    purpose: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
) -> Any:
    query = ListQuery(limit=limit, order=order, after=after)
    return await files.list_files(state, caller.tenant, query, purpose)


@router.get("/files/{file_id}")
async def retrieve_file(file_id: str, state: State, caller: CallerDep) -> Any:
    return await files.retrieve_file(state, caller.tenant, file_id)


@router.delete("/files/{file_id}")
async def delete_file(file_id: str, state: State, caller: CallerDep) -> Any:
    return await files.delete_file(state, caller.tenant, file_id)


@router.get("/files/{file_id}/content")
async def file_content(file_id: str, state: State, caller: CallerDep) -> Any:
    body = await files.retrieve_file(state, caller.tenant, file_id)  # 404 before streaming
    return StreamingResponse(
        files.iter_file_content(state, caller.tenant, file_id),
        media_type="application/octet-stream",
        headers={"content-length": str(body["bytes"])},
    )


class ExpiresAfter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anchor: Literal["created_at"]
    seconds: int


class CreateUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str = Field(max_length=files.MAX_FILENAME)
    purpose: str
    bytes: int
    mime_type: str
    expires_after: ExpiresAfter | None = None


class CompleteUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    part_ids: list[str] = Field(max_length=10_000)
    md5: str | None = Field(default=None, max_length=64)


@router.post("/uploads")
async def create_upload(body: CreateUpload, state: State, caller: CallerDep) -> Any:
    return await uploads.create_upload(state, caller.tenant, body.model_dump(exclude_none=True))


@router.post("/uploads/{upload_id}/parts")
async def add_upload_part(upload_id: str, request: Request, state: State, caller: CallerDep) -> Any:
    form = await _form(request, "data", fields=1)
    try:
        data = _file(form, "data")
        return await uploads.add_part(state, caller.tenant, upload_id, _read(data), data.size)
    finally:
        await form.close()


@router.post("/uploads/{upload_id}/complete")
async def complete_upload(
    upload_id: str, body: CompleteUpload, state: State, caller: CallerDep
) -> Any:
    return await uploads.complete_upload(state, caller.tenant, upload_id, body.part_ids, body.md5)


@router.post("/uploads/{upload_id}/cancel")
async def cancel_upload(upload_id: str, state: State, caller: CallerDep) -> Any:
    return await uploads.cancel_upload(state, caller.tenant, upload_id)
