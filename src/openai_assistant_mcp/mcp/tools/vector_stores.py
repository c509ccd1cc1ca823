"""Toolset `vector_stores`: create, read, list, modify and delete vector stores, add, list and
remove their files, and search them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ...shapes.vector_stores import VectorStoreSettings
from .common import (
    AnyObject,
    Args,
    Call,
    ListArgs,
    Metadata,
    ObjectId,
    ToolResult,
    as_dict,
    page_result,
    quoted,
)
from .spec import Toolset, ToolSpec

FileIds = list[ObjectId]
Chunking = AnyObject  # {"type": "auto"} or {"type": "static", "static": {...}}


class ExpiresAfter(Args):
    anchor: Literal["last_active_at"] = "last_active_at"
    days: int = Field(ge=1, le=365)


# A vector store's settings (`shapes.vector_stores.VectorStoreSettings`) as the MCP tools
# present them, and a create's files.
class CreateVectorStore(VectorStoreSettings, Args):
    expires_after: ExpiresAfter | None = None
    metadata: Metadata | None = None
    file_ids: FileIds | None = Field(None, max_length=500, description="Files to index.")
    chunking_strategy: Chunking | None = Field(
        None,
        description='{"type":"static","static":{"max_chunk_size_tokens":800,'
        '"chunk_overlap_tokens":400}} or auto.',
    )


class VectorStoreId(Args):
    vector_store_id: ObjectId


class ModifyVectorStore(VectorStoreSettings, VectorStoreId):
    expires_after: ExpiresAfter | None = None
    metadata: Metadata | None = None


class AddFiles(VectorStoreId):
    file_ids: FileIds = Field(min_length=1, max_length=500)
    chunking_strategy: Chunking | None = None
    attributes: AnyObject | None = Field(None, description="Up to 16 keys, for search filters.")


class ListFiles(ListArgs):
    vector_store_id: ObjectId
    filter: Literal["in_progress", "completed", "failed", "cancelled"] | None = None


class DeleteFile(VectorStoreId):
    file_id: ObjectId


class Search(VectorStoreId):
    query: str = Field(min_length=1, max_length=4096)
    max_num_results: int = Field(10, ge=1, le=50)
    filters: AnyObject | None = Field(
        None, description='On attributes: {"type":"eq","key":"k","value":"v"} or and/or.'
    )
    score_threshold: float | None = Field(None, ge=0, le=1)


def store_line(store: dict[str, Any]) -> str:
    counts = store.get("file_counts") or {}
    return (
        f"{store['id']}{quoted(store.get('name'))} {store.get('status')}, "
        f"{counts.get('completed', 0)}/{counts.get('total', 0)} files"
    )


def file_line(item: dict[str, Any]) -> str:
    error = item.get("last_error")
    reason = f" ({error['code']}: {error['message']})" if error else ""
    return f"{item['id']} {item['status']}{reason}"


def _store(store: Any, verb: str) -> ToolResult:
    data = as_dict(store)
    return ToolResult(data, f"{verb} vector store {store_line(data)}.")


async def create_vector_store(call: Call, args: CreateVectorStore) -> ToolResult:
    return _store(await call.api.vector_stores.create(**args.fields()), "Created")


async def get_vector_store(call: Call, args: VectorStoreId) -> ToolResult:
    return _store(await call.api.vector_stores.retrieve(args.vector_store_id), "Found")


async def list_vector_stores(call: Call, args: ListArgs) -> ToolResult:
    page = await call.api.vector_stores.list(**args.fields())
    return page_result(page, "vector stores", store_line)


async def modify_vector_store(call: Call, args: ModifyVectorStore) -> ToolResult:
    store = await call.api.vector_stores.update(
        args.vector_store_id, **args.fields("vector_store_id")
    )
    return _store(store, "Updated")


async def delete_vector_store(call: Call, args: VectorStoreId) -> ToolResult:
    deleted = as_dict(await call.api.vector_stores.delete(args.vector_store_id))
    return ToolResult(deleted, f"Deleted vector store {deleted['id']}.")


async def add_vector_store_files(call: Call, args: AddFiles) -> ToolResult:
    batch = as_dict(
        await call.api.vector_stores.file_batches.create(
            args.vector_store_id, **args.fields("vector_store_id")
        )
    )
    counts = batch["file_counts"]
    return ToolResult(
        batch,
        f"Batch {batch['id']} {batch['status']}: {counts['total']} files queued for indexing "
        "(see list_vector_store_files).",
    )


async def list_vector_store_files(call: Call, args: ListFiles) -> ToolResult:
    page = await call.api.vector_stores.files.list(
        args.vector_store_id, **args.fields("vector_store_id")
    )
    return page_result(page, "files", file_line)


async def delete_vector_store_file(call: Call, args: DeleteFile) -> ToolResult:
    deleted = as_dict(
        await call.api.vector_stores.files.delete(
            args.file_id, vector_store_id=args.vector_store_id
        )
    )
    return ToolResult(deleted, f"Removed file {deleted['id']} from {args.vector_store_id}.")


async def search_vector_store(call: Call, args: Search) -> ToolResult:
    extra: dict[str, Any] = {}
    if args.filters is not None:
        extra["filters"] = args.filters
    if args.score_threshold is not None:
        extra["ranking_options"] = {"score_threshold": args.score_threshold}
    page = await call.api.vector_stores.search(
        args.vector_store_id, query=args.query, max_num_results=args.max_num_results, **extra
    )
    results = []
    lines = [f"{len(page.data)} results:"]
    for item in page.data:
        text = "\n".join(part.text for part in item.content)
        results.append(
            {
                "file_id": item.file_id,
                "filename": item.filename,
                "score": item.score,
                "attributes": item.attributes or {},
                "text": text,
            }
        )
        lines.append(f"[{item.score:.3f}] {item.filename} ({item.file_id}):\n{text}")
    return ToolResult({"results": results}, "\n\n".join(lines))


TOOLSET = Toolset(
    "vector_stores",
    "Create, list, modify and delete vector stores; add and remove their files; search.",
    (
        ToolSpec(
            "create_vector_store",
            "Create a vector store, optionally indexing files (IDs of uploaded files). Indexing "
            "runs in the background. Returns the store with its ID.",
            CreateVectorStore,
            create_vector_store,
            "create",
        ),
        ToolSpec(
            "get_vector_store",
            "Get a vector store: status and file counts. Returns the store.",
            VectorStoreId,
            get_vector_store,
            "read",
        ),
        ToolSpec(
            "list_vector_stores",
            "List vector stores, newest first. Returns a page (data, has_more, last_id).",
            ListArgs,
            list_vector_stores,
            "read",
        ),
        ToolSpec(
            "modify_vector_store",
            "Change a vector store's name, expiry or metadata. Returns the store.",
            ModifyVectorStore,
            modify_vector_store,
            "update",
        ),
        ToolSpec(
            "delete_vector_store",
            "Delete a vector store and its index (the files stay). Returns {id, deleted}.",
            VectorStoreId,
            delete_vector_store,
            "delete",
        ),
        ToolSpec(
            "add_vector_store_files",
            "Add files to a vector store as one batch, indexed in the background. Returns the "
            "batch with file counts.",
            AddFiles,
            add_vector_store_files,
            "create",
        ),
        ToolSpec(
            "list_vector_store_files",
            "List a vector store's files with status and errors. Returns a page.",
            ListFiles,
            list_vector_store_files,
            "read",
        ),
        ToolSpec(
            "delete_vector_store_file",
            "Remove a file from a vector store (the file stays). Returns {id, deleted}.",
            DeleteFile,
            delete_vector_store_file,
            "delete",
        ),
        ToolSpec(
            "search_vector_store",
            "Search a vector store (keyword + semantic). Returns the best chunks with file "
            "name and score (0-1).",
            Search,
            search_vector_store,
            "read",
        ),
    ),
)
