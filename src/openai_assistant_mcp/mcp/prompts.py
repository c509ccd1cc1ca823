"""MCP prompts: ready-made entry points for the common jobs, each a short text telling the model
which tools to call with which arguments. A prompt is offered only while every tool it names is
(toolsets, read-only mode: ask-assistant and create-assistant-from-description need writes)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp_types as types

from .caller import invalid

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext

ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
TEXT_MAX = 32_000  # characters of a free-text argument (a question, a description)


@dataclass(frozen=True)
class Argument:
    name: str
    description: str
    required: bool = True
    is_id: bool = False  # checked as an object ID; completed by completion.py


@dataclass(frozen=True)
class PromptSpec:
    name: str
    description: str
    arguments: tuple[Argument, ...]
    tools: tuple[str, ...]  # the tools the text tells the model to call
    text: Callable[[dict[str, str]], str]

    def listing(self) -> types.Prompt:
        return types.Prompt(
            name=self.name,
            description=self.description,
            arguments=[
                types.PromptArgument(name=a.name, description=a.description, required=a.required)
                for a in self.arguments
            ],
        )


def _ask(args: dict[str, str]) -> str:
    thread = {"messages": [{"role": "user", "content": args["question"]}]}
    return (
        f"Ask the assistant {args['assistant_id']} the question below and tell me its answer.\n"
        f"Call create_thread_and_run with assistant_id={json.dumps(args['assistant_id'])} and "
        f"thread={json.dumps(thread, ensure_ascii=False)}. It waits and returns the run and "
        "the assistant's messages. If it returns tool_calls instead, run those functions and "
        "send their results with submit_tool_outputs. If the run is still in progress, call "
        "get_run until it ends, then list_messages. Answer with the assistant's reply.\n\n"
        f"Question:\n{args['question']}"
    )


def _create(args: dict[str, str]) -> str:
    model = args.get("model")
    model_line = (
        f"model={json.dumps(model)}" if model else "the model I name (ask me if I named none)"
    )
    return (
        "Create an assistant from the description below with create_assistant: a short name, "
        f"clear instructions in the second person, {model_line}, and tools only as needed "
        '({"type": "code_interpreter"} to compute or analyse files, {"type": "file_search"} '
        "to answer from documents). Then tell me its ID and what it will do.\n\n"
        f"Description:\n{args['description']}"
    )


def _summarise(args: dict[str, str]) -> str:
    thread_id = json.dumps(args["thread_id"])
    return (
        f"Summarise the conversation in thread {args['thread_id']}. Call list_messages with "
        f'thread_id={thread_id} and order="asc" (limit 100; while has_more, call again with '
        "after set to the last message ID). Then write a short summary: what was asked, what "
        "was answered, and what is still open."
    )


PROMPTS = (
    PromptSpec(
        "ask-assistant",
        "Ask one of your assistants a question and get its answer.",
        (
            Argument("assistant_id", "The assistant's ID (asst_...).", is_id=True),
            Argument("question", "What to ask it."),
        ),
        ("create_thread_and_run", "submit_tool_outputs", "get_run", "list_messages"),
        _ask,
    ),
    PromptSpec(
        "create-assistant-from-description",
        "Create an assistant (instructions, tools) from a plain description of what it does.",
        (
            Argument("description", "What the assistant should do."),
            Argument("model", "Model ID, e.g. gpt-4o.", required=False),
        ),
        ("create_assistant",),
        _create,
    ),
    PromptSpec(
        "summarise-thread",
        "Summarise a thread's conversation.",
        (Argument("thread_id", "The thread's ID (thread_...).", is_id=True),),
        ("list_messages",),
        _summarise,
    ),
)


class Prompts:
    """prompts/list and prompts/get for one server."""

    def __init__(self, tool_names: set[str]) -> None:
        self.prompts = {p.name: p for p in PROMPTS if set(p.tools) <= tool_names}
        self._listing = types.ListPromptsResult(
            prompts=[p.listing() for p in self.prompts.values()]
        )

    def __bool__(self) -> bool:
        return bool(self.prompts)

    async def list(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return self._listing

    async def get(
        self, ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        spec = self.prompts.get(params.name)
        if spec is None:
            raise invalid(f"Unknown prompt '{params.name[:200]}'.")
        args = checked_arguments(spec, params.arguments or {})
        message = types.PromptMessage(role="user", content=types.TextContent(text=spec.text(args)))
        return types.GetPromptResult(description=spec.description, messages=[message])


def checked_arguments(spec: PromptSpec, given: dict[str, str]) -> dict[str, str]:
    """The prompt's arguments, each checked; the first bad one named in one line."""
    known = {a.name for a in spec.arguments}
    unknown = sorted(set(given) - known)
    if unknown:
        raise invalid(f"Unknown argument '{unknown[0][:100]}' for prompt '{spec.name}'.")
    args: dict[str, str] = {}
    for argument in spec.arguments:
        value = (given.get(argument.name) or "").strip()
        if not value:
            if argument.required:
                raise invalid(f"Missing argument '{argument.name}' for prompt '{spec.name}'.")
            continue
        if argument.is_id and not ID.fullmatch(value):
            raise invalid(f"Argument '{argument.name}' is not an ID: letters, digits, _ and -.")
        if len(value) > TEXT_MAX:
            raise invalid(f"Argument '{argument.name}' is longer than {TEXT_MAX} characters.")
        args[argument.name] = value
    return args
