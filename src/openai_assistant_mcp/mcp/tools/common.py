"""What every toolset shares: argument types, the call context, results and compact schemas.

Argument models are the single source of a tool's input schema and of its validation. Their
JSON schemas are inlined (no `$ref`) and stripped of titles and null branches, so `tools/list`
stays small and stock clients such as mcpo accept them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ...shapes.messages import MessageSettings, Role
from ...shapes.threads import NewThreadSettings
from ...shapes.tools import ToolType

if TYPE_CHECKING:
    from openai import AsyncOpenAI

# --- argument types ------------------------------------------------------------------------------


class Args(BaseModel):
    """Base of every tool's arguments: unknown arguments are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    def fields(self, *exclude: str) -> dict[str, Any]:
        """The arguments given (None means not given), minus `exclude`, as API parameters."""
        return self.model_dump(exclude_none=True, exclude=set(exclude))


_ID_CHARACTERS = re.compile(r"[A-Za-z0-9_-]+")


def _id_shaped(value: str) -> str:
    if value in (".", ".."):  # a path segment of its own: the SDK refuses to build the URL
        raise ValueError(f"an ID cannot be {value!r}")
    if not _ID_CHARACTERS.fullmatch(value):
        raise ValueError("an ID is letters, digits, '_' or '-'")
    return value


# An object ID (asst_..., thread_..., ...): it goes into the request's path, so it is never
# empty and bounded in length and characters (as the engine's own check, engine/api/deps.py).
ObjectId = Annotated[
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(_id_shaped)
]
Metadata = Annotated[
    dict[Annotated[str, StringConstraints(max_length=64)], Annotated[str, Field(max_length=512)]],
    Field(max_length=16, description="Up to 16 string key/value pairs."),
]
Content = Annotated[
    str | list[dict[str, Any]],
    Field(description="Text, or a list of content parts as in the API."),
]
AnyObject = dict[str, Any]


class FunctionDef(Args):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: AnyObject | None = Field(None, description="JSON Schema of the arguments.")
    strict: bool | None = None


class ToolDef(Args):
    type: ToolType
    function: FunctionDef | None = Field(None, description="Required when type is function.")

    @model_validator(mode="after")
    def _function_given(self) -> ToolDef:
        if self.type == "function" and self.function is None:
            raise ValueError("a function tool needs 'function'")
        return self


Tools = Annotated[list[ToolDef], Field(max_length=128)]


# A new message (`shapes.messages.MessageSettings`) as the MCP tools present it.
class NewMessage(MessageSettings, Args):
    role: Role = "user"
    content: Content
    attachments: list[AnyObject] | None = None
    metadata: Metadata | None = None


# A new thread (`shapes.threads.NewThreadSettings`) as the MCP tools present it.
class NewThread(NewThreadSettings, Args):
    messages: list[NewMessage] | None = None
    tool_resources: AnyObject | None = None
    metadata: Metadata | None = None


class Truncation(Args):
    type: Literal["auto", "last_messages"]
    last_messages: int | None = Field(None, ge=1, le=2**31 - 1)


ResponseFormat = Annotated[
    Literal["auto"] | AnyObject,
    Field(description='"auto", or {"type": "text" | "json_object" | "json_schema", ...}.'),
]
ToolChoice = Annotated[
    Literal["none", "auto", "required"] | AnyObject,
    Field(description='"none", "auto", "required", or {"type": "function", "function": {name}}.'),
]


class ListArgs(Args):
    limit: int = Field(20, ge=1, le=100)
    order: Literal["asc", "desc"] = Field("desc", description="By creation time.")
    after: ObjectId | None = Field(None, description="Page cursor: an ID from the previous page.")
    before: ObjectId | None = Field(None, description="Page cursor: an ID from the previous page.")


# --- calls and results ---------------------------------------------------------------------------


@dataclass
class Call:
    """What a tool handler gets besides its arguments: the API client and a progress reporter."""

    api: AsyncOpenAI
    # progress(amount, message): amount only grows; a no-op when the caller asked for none.
    progress: Callable[[float, str], Awaitable[None]]
    # open_local(path) -> (name, binary file) for a local file the client allows (stdio only;
    # None over HTTP). The server checks the path: see local_files.py.
    open_local: Callable[[str], Awaitable[tuple[str, BinaryIO]]] | None = None


@dataclass
class ToolResult:
    """Structured JSON for programs plus a one-line summary for people and models."""

    data: dict[str, Any]
    text: str
    is_error: bool = False
    # (base64 data, MIME type) of images to return as MCP image content.
    images: list[tuple[str, str]] = field(default_factory=list)

    def texts(self) -> list[str]:
        """The result's text blocks: its summary line, then (unless an error) the whole result
        as JSON, since text-only clients such as mcpo forward nothing else (MCP says a tool
        with structured content SHOULD also send it serialized as text)."""
        if self.is_error:
            return [self.text]
        whole = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return [summary_line(self.text), whole]


# The summary is a glance; the JSON after it is complete.
SUMMARY_LIMIT = 300


def summary_line(text: str) -> str:
    """`text` on one line of at most SUMMARY_LIMIT characters."""
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_LIMIT else line[: SUMMARY_LIMIT - 1] + "…"


def counted(count: int, noun: str) -> str:
    """'1 message', '3 messages' (`noun` is the plural)."""
    return f"{count} {noun.removesuffix('s') if count == 1 else noun}"


def as_dict(obj: Any) -> dict[str, Any]:
    """An SDK object (or plain dict) as JSON-ready data."""
    if isinstance(obj, dict):
        return obj
    data: dict[str, Any] = obj.to_dict(mode="json")
    return data


def page_result(
    page: Any, noun: str, line: Callable[[dict[str, Any]], str] | None = None
) -> ToolResult:
    """A list page as the API's list envelope; the summary counts it (`noun` is the plural;
    `line` is unused, the items are in the JSON)."""
    items = [as_dict(item) for item in page.data]
    has_more = bool(getattr(page, "has_more", False))
    data = {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }
    head = counted(len(items), noun)
    if has_more:
        head += f" (more: after={data['last_id']})"
    return ToolResult(data, head + ".")


def message_text(message: dict[str, Any]) -> str:
    """The readable text of a message's content parts."""
    parts = []
    for part in message.get("content") or []:
        kind = part.get("type")
        if kind == "text":
            parts.append(part["text"]["value"])
        elif kind in ("image_file", "image_url"):
            ref = part[kind].get("file_id") or part[kind].get("url")
            parts.append(f"[{kind} {ref}]")
        elif kind == "refusal":
            parts.append(f"[refusal] {part.get('refusal', '')}")
    return "\n".join(parts)


def message_line(message: dict[str, Any]) -> str:
    return f"{message['id']} {message['role']}: {message_text(message)}"


def quoted(value: str | None) -> str:
    return f' "{value}"' if value else ""


# --- schemas and validation ----------------------------------------------------------------------


def compact_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with every `$ref` inlined and without titles or null branches."""
    raw = model.model_json_schema()
    defs = raw.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            extra = {k: walk(v) for k, v in node.items() if k != "$ref"}
            return {**target, **extra}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "title" or (key == "additionalProperties" and value is True):
                continue
            if key == "properties":
                out[key] = {name: walk(prop) for name, prop in value.items()}
            else:
                out[key] = walk(value)
        branches = out.get("anyOf")
        if branches is not None:
            kept = [b for b in branches if b != {"type": "null"}]
            if len(kept) == 1:
                del out["anyOf"]
                out = {**kept[0], **out}
            else:
                out["anyOf"] = kept
        if out.get("default", ...) is None:
            del out["default"]
        if "const" in out:  # `enum` is understood by more clients than `const`
            out["enum"] = [out.pop("const")]
        return out

    compact: dict[str, Any] = walk(raw)
    return compact


# Parts of a pydantic error location that name a union member rather than a field.
_UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "literal", "none"}


def _field_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" in part or part.lower() in _UNION_TAGS or part.startswith("function-"):
            continue
        else:
            path += f".{part}" if path else part
    return path


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad argument (at most three)."""
    seen: dict[str, str] = {}
    for item in error.errors():
        field = _field_path(item["loc"]) or "arguments"
        if field in seen:
            continue
        kind = item["type"]
        if kind == "missing":
            seen[field] = f"'{field}' is required"
        elif kind == "extra_forbidden":
            seen[field] = f"'{field}' is not a known argument"
        else:
            message = item["msg"].removeprefix("Value error, ")
            seen[field] = f"'{field}': {message}"
    text = "Invalid arguments: " + "; ".join(list(seen.values())[:3]) + "."
    # An argument's name is the caller's text: escape line breaks and other control characters.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
