"""Request models: the spec's request bodies, with OpenAI's limits. Unknown fields are refused."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, TypeAdapter, ValidationError, field_validator

from ...shapes.assistants import AssistantSettings
from ...shapes.messages import MessageSettings
from ...shapes.threads import NewThreadSettings, ThreadSettings
from .schema_base import Loose, Metadata, Request
from .vector_store_schemas import ChunkingStrategy

# --- tools --------------------------------------------------------------------------------------

FunctionName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]


class FunctionDefinition(Request):
    name: FunctionName
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(Request):
    type: Literal["function"]
    function: FunctionDefinition


class CodeInterpreterTool(Request):
    type: Literal["code_interpreter"]


class FileSearchTool(Request):
    type: Literal["file_search"]
    file_search: dict[str, Any] | None = None


Tool = Annotated[FunctionTool | CodeInterpreterTool | FileSearchTool, Field(discriminator="type")]
Tools = Annotated[list[Tool], Field(max_length=128)]


class NewVectorStore(Request):
    """The `vector_stores` helper: a store made from files when the object is created."""

    file_ids: Annotated[
        list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=10000)
    ] = []
    chunking_strategy: dict[str, Any] | None = None
    metadata: Metadata | None = None

    @field_validator("chunking_strategy")
    @classmethod
    def _chunking(cls, value: Any) -> Any:
        """Checked as a vector store's own chunking_strategy."""
        if value is None:
            return value
        try:
            TypeAdapter(ChunkingStrategy).validate_python(value, strict=True)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return value


class FileSearchResources(Request):
    vector_store_ids: (
        Annotated[list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=1)]
        | None
    ) = None
    vector_stores: Annotated[list[NewVectorStore], Field(max_length=1)] | None = None

    @field_validator("vector_stores")
    @classmethod
    def _not_both(cls, value: Any, info: Any) -> Any:
        if value and info.data.get("vector_store_ids"):
            raise ValueError("give vector_store_ids or vector_stores, not both")
        return value


class ToolResources(Request):
    code_interpreter: dict[str, Any] | None = None
    file_search: FileSearchResources | None = None


# --- response format ----------------------------------------------------------------------------


class JsonSchemaFormat(Loose):
    name: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]


class ResponseFormatText(Request):
    type: Literal["text"]


class ResponseFormatJsonObject(Request):
    type: Literal["json_object"]


class ResponseFormatJsonSchema(Request):
    type: Literal["json_schema"]
    json_schema: JsonSchemaFormat


ResponseFormat = (
    Literal["auto"]
    | Annotated[
        ResponseFormatText | ResponseFormatJsonObject | ResponseFormatJsonSchema,
        Field(discriminator="type"),
    ]
)


# --- assistants ---------------------------------------------------------------------------------


# An assistant's fields (`shapes.assistants.AssistantSettings`), those typed `Any` there as the
# REST API presents them.
class AssistantFields(AssistantSettings, Request):
    tools: Tools | None = None
    tool_resources: ToolResources | None = None
    metadata: Metadata | None = None
    response_format: ResponseFormat | None = None


class CreateAssistant(AssistantFields):
    model: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class ModifyAssistant(AssistantFields):
    model: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None

    @field_validator("model")
    @classmethod
    def _model_not_null(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("model cannot be null")
        return value


# --- messages -----------------------------------------------------------------------------------

MessageText = Annotated[str, StringConstraints(min_length=1, max_length=256_000)]
Detail = Literal["auto", "low", "high"]


class ImageFile(Request):
    file_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    detail: Detail | None = None


class ImageUrl(Request):
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=8192)]
    detail: Detail | None = None


class ImageFilePart(Request):
    type: Literal["image_file"]
    image_file: ImageFile


class ImageUrlPart(Request):
    type: Literal["image_url"]
    image_url: ImageUrl


class TextPart(Request):
    type: Literal["text"]
    text: MessageText


ContentPart = Annotated[ImageFilePart | ImageUrlPart | TextPart, Field(discriminator="type")]
# The spec gives no maximum of parts per message; each one is work (stored, sent to the model).
MAX_CONTENT_PARTS = 32
Content = (
    MessageText | Annotated[list[ContentPart], Field(min_length=1, max_length=MAX_CONTENT_PARTS)]
)


class AttachmentCodeInterpreter(Request):
    type: Literal["code_interpreter"]


class AttachmentFileSearch(Request):
    type: Literal["file_search"]


AttachmentTool = Annotated[
    AttachmentCodeInterpreter | AttachmentFileSearch, Field(discriminator="type")
]


class Attachment(Request):
    file_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    tools: Annotated[list[AttachmentTool], Field(max_length=2)]


# Files per message: OpenAI's limit for attachments.
MAX_ATTACHMENTS = 10


# A new message (`shapes.messages.MessageSettings`) as the REST API presents it.
class CreateMessage(MessageSettings, Request):
    content: Content
    attachments: Annotated[list[Attachment], Field(max_length=MAX_ATTACHMENTS)] | None = None
    metadata: Metadata | None = None


class ModifyMessage(Request):
    metadata: Metadata | None = None


# --- threads ------------------------------------------------------------------------------------


class ThreadCodeInterpreter(Request):
    file_ids: Annotated[list[str], Field(max_length=20)] = []


ThreadFileSearch = FileSearchResources


class ThreadToolResources(Request):
    code_interpreter: ThreadCodeInterpreter | None = None
    file_search: ThreadFileSearch | None = None


# Messages one thread create may carry (OpenAI's limit): each one is a row written.
MAX_THREAD_MESSAGES = 32


# A new thread (`shapes.threads.NewThreadSettings`) as the REST API presents it.
class CreateThread(NewThreadSettings, Request):
    messages: Annotated[list[CreateMessage], Field(max_length=MAX_THREAD_MESSAGES)] | None = None
    tool_resources: ThreadToolResources | None = None
    metadata: Metadata | None = None


class ModifyThread(ThreadSettings, Request):
    tool_resources: ThreadToolResources | None = None
    metadata: Metadata | None = None
