"""The base of every request model (strict, unknown fields refused) and metadata's limits."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MetadataKey = Annotated[str, StringConstraints(max_length=64)]
MetadataValue = Annotated[str, StringConstraints(max_length=512)]
Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=16)]


class Request(BaseModel):
    """Base of every request body: unknown fields are an error, as in the spec, and types are
    strict (no "1.5" for a number, no true for 1.0)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Loose(BaseModel):
    """Nested objects whose extra fields OpenAI passed through (e.g. JSON schemas)."""

    model_config = ConfigDict(extra="allow", strict=True)
