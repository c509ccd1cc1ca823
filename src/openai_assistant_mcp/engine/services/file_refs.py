"""References to files in requests (code_interpreter.file_ids, message attachments, image_file
parts): each must name a readable file of the caller, or the request is refused naming it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import invalid
from ..store import file_store
from .common import now

MAX_CODE_INTERPRETER_FILES = 20  # OpenAI's limit per assistant or thread

Refs = list[tuple[str, str]]  # (param, file_id)


def tool_resource_refs(resources: dict[str, Any] | None, prefix: str = "tool_resources") -> Refs:
    """The file IDs of `tool_resources.code_interpreter.file_ids`, checked for shape."""
    interpreter = (resources or {}).get("code_interpreter") or {}
    param = f"{prefix}.code_interpreter.file_ids"
    file_ids = interpreter.get("file_ids") if isinstance(interpreter, dict) else None
    if file_ids is None:
        return []
    if not isinstance(file_ids, list) or not all(isinstance(f, str) for f in file_ids):
        raise invalid(param, f"Invalid '{param}': expected an array of file IDs.")
    if len(file_ids) > MAX_CODE_INTERPRETER_FILES:
        raise invalid(
            param,
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{MAX_CODE_INTERPRETER_FILES}, but got an array with length {len(file_ids)} instead.",
        )
    return [(f"{param}[{index}]", file_id) for index, file_id in enumerate(file_ids)]


def message_refs(message: dict[str, Any], prefix: str = "") -> Refs:
    """The file IDs a create-message body names: attachments and image_file parts."""
    refs = [
        (f"{prefix}attachments[{index}].file_id", attachment["file_id"])
        for index, attachment in enumerate(message.get("attachments") or [])
    ]
    content = message.get("content")
    if isinstance(content, list):
        refs += [
            (f"{prefix}content[{index}].image_file.file_id", part["image_file"]["file_id"])
            for index, part in enumerate(content)
            if part.get("type") == "image_file"
        ]
    return refs


def messages_refs(messages: list[dict[str, Any]] | None, prefix: str) -> Refs:
    return [
        ref
        for index, message in enumerate(messages or [])
        for ref in message_refs(message, f"{prefix}[{index}].")
    ]


async def require_files(conn: AsyncConnection, tenant: str, refs: Refs) -> None:
    """Refuse (400, naming the param) an ID that is not a readable file of the tenant."""
    if not refs:
        return
    for param, file_id in refs:
        if not file_id.startswith("file"):
            message = f"Invalid '{param}': '{file_id}'. Expected an ID that begins with 'file'."
            raise invalid(param, message)
    found = await file_store.existing_file_ids(conn, tenant, [f for _, f in refs], now())
    for param, file_id in refs:
        if file_id not in found:
            raise invalid(param, f"Invalid '{param}': no file with id '{file_id}' was found.")
