"""The Chat Completions request for one turn of a run: settings, tools, and the conversation.

The conversation is the run's instructions (as the system message), the thread's messages in
order (truncated as the run says), then what this run already exchanged with the model (tool
calls and their outputs). Function tools reach the provider as they are; a built-in tool the
engine executes (see `builtin.py`) as the one function it offers; other tool types are kept on
assistants and runs as data."""

from __future__ import annotations

from typing import Any

from .builtin import BuiltinTool

# After forced built-in calls, last in the conversation (see docs/runs.md); the clause on
# source markers only after file_search results (Qwen2.5-0.5B copied the example marker into
# answers about its code's output otherwise).
ANSWER_NOW = (
    "Answer the user's question now from the tool results above, in plain text. Do not call a tool."
)
ANSWER_NOW_CITING = (
    "Answer the user's question now from the tool results above, in plain text, citing any "
    "source marker such as 【0:0†name】 exactly as given. Do not call a tool."
)
# A rough token estimate (characters per token) for `max_prompt_tokens` under `auto`.
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


def build_request(
    run: dict[str, Any],
    execution: dict[str, Any],
    history: list[dict[str, Any]],
    offered: dict[str, BuiltinTool] | None = None,
    images: dict[str, str] | None = None,
    notes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of `chat.completions.create` for the run's next turn; `offered`
    are the built-in tools the run's tools offer, by function name; `images`
    maps image_file IDs to data URLs (see `image_file_ids`); `notes` are added to the
    descriptions of the built-in tools' functions, by function name (e.g. the files in
    code_interpreter's /mnt/data)."""
    conversation = [
        chat_message(message, images)
        for message in history
        if message.get("run_id") != run["id"] and message.get("status") != "in_progress"
    ]
    conversation = [m for m in conversation if m["content"]]
    transcript = execution.get("transcript", [])
    # What this run already exchanged (tool calls, search results) counts toward the budget.
    reserved = sum(estimate_tokens(m) for m in transcript)
    conversation = truncate(conversation, run, reserved)
    messages: list[dict[str, Any]] = []
    if run.get("instructions"):
        messages.append({"role": "system", "content": run["instructions"]})
    messages += conversation
    messages += transcript

    request: dict[str, Any] = {"model": run["model"], "messages": messages}
    offered = offered or {}
    tools = function_tools(run.get("tools") or [], offered, notes)
    if tools:
        request["tools"] = tools
        choice = tool_choice(run.get("tool_choice"), offered)
        if choice not in (None, "auto", "none") and transcript:
            # A forced call is forced once: after its outputs the model answers (or it loops).
            # After forced built-in calls the model must answer from their outputs ("none"): a
            # small model given "auto" writes the same call again (issue 23). After function
            # outputs it may call again ("auto"), as the caller's tools may chain.
            answer_now = _after_builtin_calls(transcript, offered)
            choice = "none" if answer_now else "auto"
            if answer_now:  # small models write the call again even so; told plainly, they answer
                messages.append({"role": "system", "content": answer_now_text(transcript, offered)})
        if choice is not None:
            request["tool_choice"] = choice
        if run.get("parallel_tool_calls") is False:
            request["parallel_tool_calls"] = False
    for name in ("temperature", "top_p"):
        if run.get(name) is not None:
            request[name] = run[name]
    if isinstance(run.get("response_format"), dict):
        request["response_format"] = run["response_format"]
    if run.get("max_completion_tokens"):
        used = int((execution.get("usage") or {}).get("completion_tokens", 0))
        request["max_completion_tokens"] = max(1, run["max_completion_tokens"] - used)
    if execution.get("reasoning_effort"):
        request["reasoning_effort"] = execution["reasoning_effort"]
    return request


def answer_now_text(transcript: list[dict[str, Any]], offered: dict[str, BuiltinTool]) -> str:
    """The closing instruction to answer, citing markers when file_search results are there
    (`offered`: the run's built-in tools by function name)."""
    searched = any(
        (found := offered.get(call["function"]["name"])) is not None and found.type == "file_search"
        for message in transcript
        for call in message.get("tool_calls") or ()
    )
    return ANSWER_NOW_CITING if searched else ANSWER_NOW


def _after_builtin_calls(transcript: list[dict[str, Any]], offered: dict[str, BuiltinTool]) -> bool:
    """Whether the conversation ends with the outputs of a round of built-in calls only."""
    if not transcript or transcript[-1].get("role") != "tool":
        return False
    names = set(offered)
    turn = next((m for m in reversed(transcript) if m.get("role") == "assistant"), None)
    calls = (turn or {}).get("tool_calls") or []
    return bool(calls) and all(call["function"]["name"] in names for call in calls)


def image_file_ids(history: list[dict[str, Any]]) -> list[str]:
    """The file IDs of image_file parts in user messages (those chat_message sends on)."""
    return [
        part["image_file"]["file_id"]
        for message in history
        if message.get("role") == "user"
        for part in message.get("content") or []
        if part.get("type") == "image_file"
    ]


def chat_message(
    message: dict[str, Any], data_urls: dict[str, str] | None = None
) -> dict[str, Any]:
    """A thread message as a chat message: text parts joined, image URLs kept as image parts,
    image files sent as data URLs (`data_urls`; a file not there, e.g. deleted, is left out)."""
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    for part in message.get("content") or []:
        kind = part.get("type")
        if kind == "text":
            texts.append(part["text"]["value"])
        elif kind in ("image_url", "image_file"):
            source = part[kind]
            url = (
                source.get("url")
                if kind == "image_url"
                else (data_urls or {}).get(source["file_id"])
            )
            if url is None:
                continue
            image = {"url": url}
            if source.get("detail"):
                image["detail"] = source["detail"]
            images.append({"type": "image_url", "image_url": image})
    text = "\n".join(t for t in texts if t)
    content: Any = text
    if images and message.get("role") == "user":
        content = ([{"type": "text", "text": text}] if text else []) + images
    return {"role": message.get("role", "user"), "content": content}


def truncate(
    conversation: list[dict[str, Any]], run: dict[str, Any], reserved: int = 0
) -> list[dict[str, Any]]:
    truncation = run.get("truncation_strategy") or {}
    if truncation.get("type") == "last_messages" and truncation.get("last_messages"):
        return conversation[-int(truncation["last_messages"]) :]
    budget = run.get("max_prompt_tokens")
    if not budget:
        return conversation
    # `auto`: drop the oldest messages until the estimate fits, always keeping the newest.
    budget -= estimate_tokens({"content": run.get("instructions") or ""}) + reserved
    kept: list[dict[str, Any]] = []
    for message in reversed(conversation):
        cost = estimate_tokens(message)
        if kept and cost > budget:
            break
        kept.append(message)
        budget -= cost
    kept.reverse()
    return kept


def estimate_tokens(message: dict[str, Any]) -> int:
    content = message.get("content")
    if isinstance(content, list):
        text = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    else:
        text = content or ""
    return TOKENS_PER_MESSAGE + len(text) // CHARS_PER_TOKEN


def function_tools(
    tools: list[dict[str, Any]],
    offered: dict[str, BuiltinTool],
    notes: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    by_type = {tool.type: tool for tool in offered.values()}
    out = []
    for tool in tools:
        if tool.get("type") == "function":
            function = {k: v for k, v in tool["function"].items() if v is not None}
            out.append({"type": "function", "function": function})
        elif (found := by_type.get(tool.get("type", ""))) is not None:
            function_tool = found.function(tool)
            note = (notes or {}).get(found.function_name)
            if note:
                function = function_tool["function"]
                described = f"{function.get('description', '')} {note}".strip()
                function_tool = {
                    **function_tool,
                    "function": {**function, "description": described},
                }
            out.append(function_tool)
    return out


def tool_choice(choice: Any, offered: dict[str, BuiltinTool] | None = None) -> Any:
    """The run's tool_choice as Chat Completions takes it (None: leave the provider's default).
    Choosing a built-in tool type chooses the function it is offered as."""
    if isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice["function"]["name"]}}
    if isinstance(choice, dict):
        for found in (offered or {}).values():
            if found.type == choice.get("type"):
                return {"type": "function", "function": {"name": found.function_name}}
    return None
