"""A thread's shapes, declared once: the fields a create or modify sets (`ThreadSettings`; a
create also takes the first messages: `NewThreadSettings`), which the MCP thread tools'
arguments and the REST request bodies subclass, and the Thread object field by field
(`THREAD_FIELDS`, what `engine/services/threads.py` builds one from).

A new thread field is a field of `ThreadSettings` and an entry of `THREAD_FIELDS`, both here;
then its use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .objects import WRITTEN, Fields, Setting


class ThreadSettings(BaseModel):
    """What a create or modify of a thread sets. Typed `Any`: each door presents these its own
    way and declares them again (same name, same place): strict models in REST, short loose
    objects in the MCP tools' schemas."""

    tool_resources: Any = None
    metadata: Any = None


class ThreadMessages(BaseModel):
    """A new thread's first messages (each door's own message model)."""

    messages: Any = None


class NewThreadSettings(ThreadSettings, ThreadMessages):
    """What a thread create takes: its first messages, then the thread's settings."""


# The Thread object (`thread`), every field in the order the API writes it.
THREAD_FIELDS: Fields = {
    "id": WRITTEN,
    "object": WRITTEN,
    "created_at": WRITTEN,
    "tool_resources": Setting({}),
    "metadata": Setting({}),
}
