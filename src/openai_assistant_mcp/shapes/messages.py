"""A message's shapes, declared once: the fields a new message takes (`MessageSettings`, which
the MCP message tools' arguments and the REST request bodies subclass) and the Message object
field by field (`MESSAGE_FIELDS`, what `engine/services/messages.py` builds one from, for the
caller's messages and a run's alike).

A new message field is a field of `MessageSettings` and an entry of `MESSAGE_FIELDS`, both
here; then its use (e.g. `engine/runs/prompt.py`, what the model is sent)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from .objects import WRITTEN, Fields, Setting

Role = Literal["user", "assistant"]


class MessageSettings(BaseModel):
    """What a new message takes. A field typed `Any` here is one each door presents in its own
    way and declares again (same name, same place): strict models in REST, short loose objects
    in the MCP tools' schemas. `role` is required; the MCP tools default it to "user"."""

    role: Role
    content: Any
    attachments: Any = None
    metadata: Any = None


# The Message object (`thread.message`), every field in the order the engine writes it.
MESSAGE_FIELDS: Fields = {
    "id": WRITTEN,
    "object": WRITTEN,
    "created_at": WRITTEN,
    "assistant_id": WRITTEN,
    "thread_id": WRITTEN,
    "run_id": WRITTEN,
    "role": Setting(),
    "content": WRITTEN,  # the request's text or parts, as the object's content parts
    "attachments": Setting([]),
    "metadata": Setting({}),
    "status": WRITTEN,
    "incomplete_details": WRITTEN,
    "completed_at": WRITTEN,
    "incomplete_at": WRITTEN,
}
