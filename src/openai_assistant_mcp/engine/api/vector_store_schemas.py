"""Request models of /v1/vector_stores, with OpenAI's limits."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from ...shapes.assistants import Description  # the assistants' bound
from ...shapes.vector_stores import VectorStoreSettings
from .schema_base import Metadata, Request

FileId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
AttributeKey = Annotated[str, StringConstraints(max_length=64)]
AttributeValue = Annotated[str, StringConstraints(max_length=512)] | bool | int | float
Attributes = Annotated[dict[AttributeKey, AttributeValue], Field(max_length=16)]


class StaticChunking(Request):
    max_chunk_size_tokens: int = Field(ge=100, le=4096)
    chunk_overlap_tokens: int = Field(ge=0)

    @field_validator("chunk_overlap_tokens")
    @classmethod
    def _at_most_half(cls, value: int, info: ValidationInfo) -> int:
        size = info.data.get("max_chunk_size_tokens")
        if size is not None and value > size // 2:
            raise ValueError(f"must not exceed half of max_chunk_size_tokens ({size // 2})")
        return value


class AutoChunkingStrategy(Request):
    type: Literal["auto"]


class StaticChunkingStrategy(Request):
    type: Literal["static"]
    static: StaticChunking


ChunkingStrategy = Annotated[
    AutoChunkingStrategy | StaticChunkingStrategy, Field(discriminator="type")
]


class ExpiresAfter(Request):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


# A vector store's settings (`shapes.vector_stores.VectorStoreSettings`) as the REST API
# presents them, and what only a create takes.
class CreateVectorStore(VectorStoreSettings, Request):
    expires_after: ExpiresAfter | None = None
    metadata: Metadata | None = None
    file_ids: Annotated[list[FileId], Field(max_length=500)] | None = None
    description: Description | None = None
    chunking_strategy: ChunkingStrategy | None = None


class ModifyVectorStore(VectorStoreSettings, Request):
    expires_after: ExpiresAfter | None = None
    metadata: Metadata | None = None
    # Not in UpdateVectorStoreRequest, but what create takes can be changed.
    description: Description | None = None


class CreateVectorStoreFile(Request):
    file_id: FileId
    chunking_strategy: ChunkingStrategy | None = None
    attributes: Attributes | None = None


class CreateFileBatch(Request):
    file_ids: Annotated[list[FileId], Field(min_length=1, max_length=2000)] | None = None
    files: Annotated[list[CreateVectorStoreFile], Field(min_length=1, max_length=2000)] | None = (
        None
    )
    chunking_strategy: ChunkingStrategy | None = None
    attributes: Attributes | None = None

    @field_validator("files")
    @classmethod
    def _one_of(
        cls, value: list[CreateVectorStoreFile] | None, info: ValidationInfo
    ) -> list[CreateVectorStoreFile] | None:
        if value is not None and info.data.get("file_ids") is not None:
            raise ValueError("give either file_ids or files, not both")
        return value


class UpdateFileAttributes(Request):
    attributes: Attributes | None


ComparisonValue = (
    Annotated[str, StringConstraints(max_length=512)]
    | float
    | bool
    | Annotated[
        list[Annotated[str, StringConstraints(max_length=512)] | float], Field(max_length=100)
    ]
)


class ComparisonFilter(Request):
    type: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]
    key: Annotated[str, StringConstraints(max_length=64)]
    value: ComparisonValue


class CompoundFilter(Request):
    type: Literal["and", "or"]
    filters: Annotated[
        list[Annotated[ComparisonFilter | CompoundFilter, Field(discriminator="type")]],
        Field(max_length=64),
    ]


Filter = Annotated[ComparisonFilter | CompoundFilter, Field(discriminator="type")]
Query = Annotated[str, StringConstraints(max_length=4096)]


class RankingOptions(Request):
    ranker: Literal["none", "auto", "default-2024-11-15"] = "auto"
    score_threshold: float = Field(default=0.0, ge=0.0, le=1.0)


class SearchVectorStore(Request):
    query: Query | Annotated[list[Query], Field(min_length=1, max_length=10)]
    rewrite_query: bool = False
    max_num_results: int = Field(default=10, ge=1, le=50)
    filters: Filter | None = None
    ranking_options: RankingOptions | None = None
