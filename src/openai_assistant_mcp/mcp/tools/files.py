"""Toolset `files`: upload (by content; by local path over stdio), list, get, read and delete
files of the Files API."""

from __future__ import annotations

import base64
import binascii
import codecs
import mimetypes
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from .common import Args, Call, ObjectId, ToolResult, as_dict, page_result
from .spec import Toolset, ToolSpec

Purpose = Literal["assistants", "vision", "user_data", "batch", "fine-tune"]
# Fits in one request under the HTTP transports' default body cap (MAX_REQUEST_BODY_BYTES,
# 4 MiB); larger files go by path (stdio) or through the REST API.
MAX_CONTENT_CHARS = 3 * 1024 * 1024
IMAGE_MAX_BYTES = 5 * 1024 * 1024  # images are returned whole, as MCP image content, up to this
_IMAGE_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def _storable(value: str | None) -> str | None:
    """Refuses text the API cannot carry: lone surrogates (not UTF-8) and NUL characters."""
    if value is not None:
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("contains an unpaired surrogate") from None
    return value


def _file_name(value: str | None) -> str | None:
    if value is not None and not value.isprintable():
        raise ValueError("a file name cannot contain control characters")
    return _storable(value)


class UploadFile(Args):
    path: Annotated[str | None, AfterValidator(_storable)] = Field(
        None, description="Absolute local path (stdio only; under the client's roots)."
    )
    content: Annotated[str | None, AfterValidator(_storable)] = Field(
        None, max_length=MAX_CONTENT_CHARS, description="File content."
    )
    encoding: Literal["text", "base64"] = Field("text", description="How content is encoded.")
    filename: Annotated[str | None, AfterValidator(_file_name)] = Field(
        None, max_length=1024, description="Needed with content; default: the path's name."
    )
    purpose: Purpose = "assistants"

    @model_validator(mode="after")
    def _one_source(self) -> UploadFile:
        if (self.path is None) == (self.content is None):
            raise ValueError("give either 'path' or 'content'")
        if self.content is not None and not self.filename:
            raise ValueError("'filename' is required with 'content'")
        return self


class FileId(Args):
    file_id: ObjectId


class ReadFile(FileId):
    max_bytes: int = Field(100_000, ge=1, le=1_000_000, description="Read at most this much.")


class ListFiles(Args):
    purpose: str | None = None
    limit: int = Field(20, ge=1, le=10_000)
    order: Literal["asc", "desc"] = "desc"
    after: str | None = Field(None, description="Page cursor: an ID from the previous page.")


def file_line(file: dict[str, Any]) -> str:
    return f"{file['id']} {file['filename']} ({file['bytes']} bytes, {file['purpose']})"


def _result(file: Any, verb: str) -> ToolResult:
    data = as_dict(file)
    return ToolResult(data, f"{verb} file {file_line(data)}.")


async def upload_file(call: Call, args: UploadFile) -> ToolResult:
    if args.path is not None:
        if call.open_local is None:
            return ToolResult(
                {},
                "Uploading by path works only over stdio; over HTTP send 'content' "
                "(text, or base64 with encoding=base64) and 'filename'.",
                is_error=True,
            )
        name, handle = await call.open_local(args.path)
        with handle:
            created = await call.api.files.create(
                file=(args.filename or name, handle), purpose=args.purpose
            )
        return _result(created, "Uploaded")
    assert args.content is not None and args.filename is not None
    if args.encoding == "base64":
        try:
            data = base64.b64decode(args.content, validate=True)
        except (binascii.Error, ValueError):
            return ToolResult({}, "Invalid arguments: 'content' is not valid base64.", True)
    else:
        data = args.content.encode()
    created = await call.api.files.create(file=(args.filename, data), purpose=args.purpose)
    return _result(created, "Uploaded")


async def list_files(call: Call, args: ListFiles) -> ToolResult:
    page = await call.api.files.list(**args.fields())
    return page_result(page, "files", file_line)


async def get_file(call: Call, args: FileId) -> ToolResult:
    return _result(await call.api.files.retrieve(args.file_id), "Found")


async def delete_file(call: Call, args: FileId) -> ToolResult:
    deleted = as_dict(await call.api.files.delete(args.file_id))
    return ToolResult(deleted, f"Deleted file {deleted['id']}.")


def _image_type(head: bytes, filename: str) -> str | None:
    for signature, mime in _IMAGE_SIGNATURES.items():
        if head.startswith(signature):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    guessed = mimetypes.guess_type(filename)[0]
    return guessed if guessed and guessed.startswith("image/") else None


async def _read(call: Call, file_id: str, limit: int) -> bytes:
    """At most `limit` bytes of the file, streamed (the rest is never fetched into memory)."""
    data = bytearray()
    async with call.api.files.with_streaming_response.content(file_id) as response:
        async for chunk in response.iter_bytes():
            data += chunk[: limit - len(data)]
            if len(data) >= limit:
                break
    return bytes(data)


async def get_file_content(call: Call, args: ReadFile) -> ToolResult:
    file = as_dict(await call.api.files.retrieve(args.file_id))
    size = file["bytes"]
    head = await _read(call, args.file_id, min(size, max(args.max_bytes, 16)))
    mime = _image_type(head, file["filename"])
    if mime is not None and size <= IMAGE_MAX_BYTES:
        data = head if len(head) == size else await _read(call, args.file_id, size)
        encoded = base64.b64encode(data).decode()
        text = f"Image file {file_line(file)}, {mime}."
        return ToolResult({"file": file, "mime_type": mime}, text, images=[(encoded, mime)])
    data = head[: args.max_bytes]
    truncated = size > len(data)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:  # a cut in the middle of a character is not an error: final=False keeps it back
        text = decoder.decode(data, final=not truncated)
        encoding = "text"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(data).decode(), "base64"
    result = {"file": file, "encoding": encoding, "content": text, "truncated": truncated}
    note = f" (first {len(data)} bytes of {size})" if truncated else ""
    return ToolResult(result, f"File {file_line(file)}, {encoding}{note}:\n{text}")


TOOLSET = Toolset(
    "files",
    "Upload (by content, or by local path over stdio), list, read and delete files.",
    (
        ToolSpec(
            "upload_file",
            "Upload a file for assistants (code_interpreter, file_search, image_file): by "
            "'content' (text or base64) with 'filename', or by local 'path' over stdio. "
            "Returns the file.",
            UploadFile,
            upload_file,
            "create",
            reads_local_files=True,
        ),
        ToolSpec(
            "list_files",
            "List uploaded files, newest first. Returns a page (data, has_more, last_id).",
            ListFiles,
            list_files,
            "read",
        ),
        ToolSpec(
            "get_file",
            "Get a file's details (name, bytes, purpose) by ID.",
            FileId,
            get_file,
            "read",
        ),
        ToolSpec(
            "get_file_content",
            "Read a file: text, base64 for binary (up to max_bytes), or the image itself.",
            ReadFile,
            get_file_content,
            "read",
        ),
        ToolSpec(
            "delete_file",
            "Delete a file permanently (detaches it from assistants and threads).",
            FileId,
            delete_file,
            "delete",
        ),
    ),
)
