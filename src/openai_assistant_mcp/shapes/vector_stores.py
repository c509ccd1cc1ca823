"""A vector store's shapes, declared once: the fields a create or modify sets
(`VectorStoreSettings`, which the MCP vector store tools' arguments and the REST request bodies
subclass) and the stored vector store field by field (`VECTOR_STORE_FIELDS`, what
`engine/services/vector_store_files.py` builds one from); the API object is that, less
`HIDDEN`, plus `READ_FIELDS` (`engine/services/vector_stores.shape`).

A new vector store field is a field of `VectorStoreSettings` and an entry of
`VECTOR_STORE_FIELDS`, both here; then its use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .assistants import Name
from .objects import WRITTEN, Fields, Setting


class VectorStoreSettings(BaseModel):
    """What a create or modify of a vector store sets, but `description` (REST only) and a
    create's files. A field typed `Any` here is one each door presents in its own way and
    declares again (same name, same place)."""

    name: Name | None = None
    expires_after: Any = None
    metadata: Any = None


# The vector store as stored, every field in the order the engine writes it.
VECTOR_STORE_FIELDS: Fields = {
    "id": WRITTEN,
    "object": WRITTEN,
    "created_at": WRITTEN,
    "name": Setting(""),
    "description": Setting(),
    "metadata": Setting({}),
    "expires_after": Setting(),
    "expires_at": WRITTEN,  # from expires_after and last_active_at
    "last_active_at": WRITTEN,
}
# Stored but not shown: VectorStoreObject (and the openai SDK's model) has no description.
HIDDEN = frozenset({"description"})
# Shown but not stored: read from the store's files whenever it is shown.
READ_FIELDS = ("usage_bytes", "file_counts", "status")
