"""MCP resources: the caller's assistants, threads' conversations, files and vector stores,
read through the same API client, key and limits as the tools (caller.py).

URIs: `assistant://{assistant_id}` (the definition, JSON), `thread://{thread_id}/messages` (the
newest messages as markdown), `openai-file://{file_id}` (metadata, then the content: text, or a
base64 blob; not `file://`, which names the client's local files), and
`vector-store://{vector_store_id}/files` (JSON). A template is offered only while the tool
that reads the same object is (toolsets); every resource is a read, so read-only mode keeps all.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp_types as types

from .caller import invalid
from .tools.common import as_dict

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from openai import AsyncOpenAI

    from .caller import CallerAPI

LIST_PAGE = 50  # resources/list: objects of one kind per page
THREAD_MESSAGES = 50  # thread://…/messages: the newest this many, oldest first
FILE_BYTES = 1_000_000  # openai-file://: at most this much content (get_file_content's cap)
STORE_FILES = 100  # vector-store://…/files: the newest this many

Contents = types.TextResourceContents | types.BlobResourceContents


@dataclass(frozen=True)
class Template:
    """One URI template: the tool it stands beside, its pattern and its reader."""

    uri_template: str
    name: str
    description: str
    mime_type: str
    tool: str
    pattern: re.Pattern[str]
    read: Callable[[AsyncOpenAI, str, str], Awaitable[list[Contents]]]

    def listing(self) -> types.ResourceTemplate:
        return types.ResourceTemplate(
            uri_template=self.uri_template,
            name=self.name,
            description=self.description,
            mime_type=self.mime_type,
        )


def _json(uri: str, data: Any) -> types.TextResourceContents:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return types.TextResourceContents(uri=uri, mime_type="application/json", text=text)


async def read_assistant(api: AsyncOpenAI, uri: str, assistant_id: str) -> list[Contents]:
    assistant = await api.beta.assistants.retrieve(assistant_id)
    return [_json(uri, as_dict(assistant))]


async def read_thread_messages(api: AsyncOpenAI, uri: str, thread_id: str) -> list[Contents]:
    page = await api.beta.threads.messages.list(thread_id, limit=THREAD_MESSAGES, order="desc")
    messages = [as_dict(m) for m in page.data]
    shown = f"the newest {len(messages)}" if page.has_more else f"{len(messages)}"
    lines = [f"# Thread {thread_id} ({shown} messages, oldest first)"]
    for message in reversed(messages):
        lines.append(f"\n## {message['role']} ({message['id']})\n")
        blocks: list[dict[str, Any]] = message["content"]
        lines.extend(_block_text(block) for block in blocks)
    text = "\n".join(lines) + "\n"
    return [types.TextResourceContents(uri=uri, mime_type="text/markdown", text=text)]


def _block_text(block: dict[str, Any]) -> str:
    if block["type"] == "text":
        return str(block["text"]["value"])
    if block["type"] == "image_file":
        return f"[image: file {block['image_file']['file_id']}]"
    if block["type"] == "image_url":
        return f"[image: {block['image_url']['url']}]"
    return f"[{block['type']}]"


async def read_file(api: AsyncOpenAI, uri: str, file_id: str) -> list[Contents]:
    """The file's metadata (JSON), then its content through get_file_content's own reader:
    text as text, anything else (images included) as a base64 blob; at most FILE_BYTES."""
    from .tools.common import Call
    from .tools.files import ReadFile, get_file_content

    async def no_progress(amount: float, message: str) -> None:
        return None

    result = await get_file_content(
        Call(api=api, progress=no_progress), ReadFile(file_id=file_id, max_bytes=FILE_BYTES)
    )
    data = result.data
    file = data["file"]
    guessed = mimetypes.guess_type(file["filename"])[0]
    meta = {**file, "truncated": data.get("truncated", False)}
    content: Contents
    if result.images:
        blob, mime = result.images[0]
        content = types.BlobResourceContents(uri=uri, mime_type=mime, blob=blob)
    elif data["encoding"] == "text":
        mime = guessed if guessed and _is_text(guessed) else "text/plain"
        content = types.TextResourceContents(uri=uri, mime_type=mime, text=data["content"])
    else:
        mime = guessed or "application/octet-stream"
        content = types.BlobResourceContents(uri=uri, mime_type=mime, blob=data["content"])
    return [_json(uri, meta), content]


def _is_text(mime: str) -> bool:
    return mime.startswith("text/") or mime in ("application/json", "application/xml")


async def read_vector_store_files(
    api: AsyncOpenAI, uri: str, vector_store_id: str
) -> list[Contents]:
    store = await api.vector_stores.retrieve(vector_store_id)
    page = await api.vector_stores.files.list(vector_store_id, limit=STORE_FILES, order="desc")
    files = [
        {k: f.get(k) for k in ("id", "status", "usage_bytes", "created_at", "last_error")}
        for f in (as_dict(item) for item in page.data)
    ]
    data = {
        "vector_store": {k: as_dict(store).get(k) for k in ("id", "name", "status")},
        "files": files,
        "has_more": page.has_more,
    }
    return [_json(uri, data)]


_ID = r"([A-Za-z0-9_-]{1,128})"
TEMPLATES = (
    Template(
        "assistant://{assistant_id}",
        "assistant",
        "An assistant's definition (model, instructions, tools) as JSON.",
        "application/json",
        "get_assistant",
        re.compile(rf"assistant://{_ID}"),
        read_assistant,
    ),
    Template(
        "thread://{thread_id}/messages",
        "thread-messages",
        f"A thread's conversation as markdown: the newest {THREAD_MESSAGES} messages.",
        "text/markdown",
        "list_messages",
        re.compile(rf"thread://{_ID}/messages"),
        read_thread_messages,
    ),
    Template(
        "openai-file://{file_id}",
        "file",
        f"A Files API file: its metadata (JSON), then its content (text, or base64; images "
        f"whole up to 5 MB, other files their first {FILE_BYTES} bytes).",
        "application/json",
        "get_file_content",
        re.compile(rf"openai-file://{_ID}"),
        read_file,
    ),
    Template(
        "vector-store://{vector_store_id}/files",
        "vector-store-files",
        f"A vector store's files and their ingestion status (the newest {STORE_FILES}), JSON.",
        "application/json",
        "list_vector_store_files",
        re.compile(rf"vector-store://{_ID}/files"),
        read_vector_store_files,
    ),
)


class Resources:
    """resources/list, resources/templates/list and resources/read for one server."""

    def __init__(self, access: CallerAPI, tool_names: set[str]) -> None:
        self.access = access
        self.templates = [t for t in TEMPLATES if t.tool in tool_names]
        self._lists_assistants = "list_assistants" in tool_names
        self._lists_stores = "list_vector_stores" in tool_names
        self._listing = types.ListResourceTemplatesResult(
            resource_templates=[t.listing() for t in self.templates]
        )

    def __bool__(self) -> bool:
        return bool(self.templates)

    async def list_templates(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return self._listing

    async def list(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        """The caller's assistants, then vector stores, newest first, LIST_PAGE a page. The
        cursor is `<kind>:<last ID of the page before>`."""
        kind, _, after = ((params and params.cursor) or "assistant:").partition(":")
        if kind not in ("assistant", "vector-store"):
            raise invalid(f"Invalid cursor '{params and params.cursor}'.")
        if kind == "assistant" and not self._lists_assistants:
            kind, after = "vector-store", ""
        if kind == "vector-store" and not self._lists_stores:
            return types.ListResourcesResult(resources=[])
        async with self.access.api(ctx, "resources/list") as api:
            from openai import omit

            cursor_id = after or omit
            lister = api.beta.assistants if kind == "assistant" else api.vector_stores
            page = await lister.list(limit=LIST_PAGE, order="desc", after=cursor_id)
            items = [as_dict(item) for item in page.data]
        resources = [_listed(kind, item) for item in items]
        cursor = None
        if page.has_more and items:
            cursor = f"{kind}:{items[-1]['id']}"
        elif kind == "assistant" and self._lists_stores:
            cursor = "vector-store:"
        return types.ListResourcesResult(resources=resources, next_cursor=cursor)

    async def read(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        for template in self.templates:
            match = template.pattern.fullmatch(uri)
            if match:
                async with self.access.api(ctx, f"resources/read {template.name}") as api:
                    contents = await template.read(api, uri, match.group(1))
                return types.ReadResourceResult(contents=contents)
        known = ", ".join(t.uri_template for t in self.templates)
        raise invalid(f"Unknown resource URI '{uri[:200]}': this server reads {known}.")


def _listed(kind: str, item: dict[str, Any]) -> types.Resource:
    if kind == "assistant":
        return types.Resource(
            uri=f"assistant://{item['id']}",
            name=item.get("name") or item["id"],
            description=f"Assistant {item['id']} ({item.get('model')})",
            mime_type="application/json",
        )
    return types.Resource(
        uri=f"vector-store://{item['id']}/files",
        name=item.get("name") or item["id"],
        description=f"Vector store {item['id']}: its files",
        mime_type="application/json",
    )
