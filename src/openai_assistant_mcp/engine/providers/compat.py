"""Provider compatibility: small, named changes to a Chat Completions request for servers that
differ from OpenAI's API, kept here so the rest of the engine speaks OpenAI's API only.

An adaptation is applied when `PROVIDER_COMPAT` names it, or once the provider refused a request
with an error naming its cause (`refused`); it is then kept for that provider for the rest of the
process. Requests to providers that need none go out exactly as OpenAI's API expects them.
docs/runs.md lists every adaptation with the servers it is for."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Request = dict[str, Any]


@dataclass(frozen=True)
class Adaptation:
    name: str
    # Whether the request has what this adaptation changes.
    applies: Callable[[Request], bool]
    change: Callable[[Request], Request]
    # A provider error message (HTTP 4xx/5xx) that calls for this adaptation, or None when the
    # server ignores what it does not know (then only PROVIDER_COMPAT turns it on).
    refused: re.Pattern[str] | None


def _null_content_with_tool_calls(request: Request) -> bool:
    return any(_is_bare_tool_call(m) for m in request.get("messages", []))


def _is_bare_tool_call(message: dict[str, Any]) -> bool:
    return (
        message.get("role") == "assistant"
        and bool(message.get("tool_calls"))
        and (message.get("content") is None)
    )


def _empty_content_for_tool_calls(request: Request) -> Request:
    messages = [{**m, "content": ""} if _is_bare_tool_call(m) else m for m in request["messages"]]
    return {**request, "messages": messages}


def _max_tokens(request: Request) -> Request:
    adapted = {k: v for k, v in request.items() if k != "max_completion_tokens"}
    adapted["max_tokens"] = request["max_completion_tokens"]
    return adapted


ADAPTATIONS: dict[str, Adaptation] = {
    # llama-cpp-python's server validates an assistant message's content as a string (HTTP 500,
    # "messages.N…content… Input should be a valid string"); OpenAI takes null or "" alike.
    "tool_call_content": Adaptation(
        "tool_call_content",
        _null_content_with_tool_calls,
        _empty_content_for_tool_calls,
        re.compile(r"content.{0,80}(valid string|str type expected|NoneType|none is not)", re.S),
    ),
    # Servers that predate `max_completion_tokens` (Sept. 2024): llama-cpp-python ignores it, so
    # only PROVIDER_COMPAT turns this on for it; older Azure API versions and strict servers
    # refuse it by name ("Unrecognized request argument supplied: max_completion_tokens").
    "max_tokens": Adaptation(
        "max_tokens",
        lambda request: "max_completion_tokens" in request,
        _max_tokens,
        re.compile(
            r"(unrecognized|unknown|unsupported|unexpected|extra|not (permitted|allowed|supported))"
            r".{0,80}max_completion_tokens|max_completion_tokens.{0,40}"
            r"(unrecognized|unknown|unsupported|not (permitted|allowed|supported))",
            re.I | re.S,
        ),
    ),
}


def parse_names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """PROVIDER_COMPAT's names, checked: a comma-separated string or a list."""
    if not value:
        return ()
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    unknown = [n for n in names if n and n not in ADAPTATIONS]
    if unknown:
        raise ValueError(f"unknown adaptation {unknown[0]!r}; known: {', '.join(ADAPTATIONS)}")
    return tuple(n for n in names if n)


class Compatibility:
    """The adaptations in force for one provider: configured ones, then learned ones."""

    def __init__(self, names: str | Iterable[str] = ()) -> None:
        self.active: list[str] = list(parse_names(names))

    def adapt(self, request: Request) -> Request:
        for name in self.active:
            adaptation = ADAPTATIONS[name]
            if adaptation.applies(request):
                request = adaptation.change(request)
        return request

    def learn(self, request: Request, error_message: str) -> str | None:
        """The adaptation the provider's refusal of `request` calls for, now in force; None if
        the error names no cause this module knows (the refusal then stands)."""
        for adaptation in ADAPTATIONS.values():
            if (
                adaptation.name not in self.active
                and adaptation.refused is not None
                and adaptation.applies(self.adapt(request))
                and adaptation.refused.search(error_message)
            ):
                self.active.append(adaptation.name)
                return adaptation.name
        return None


class RepeatedCallHeaders:
    """Streams as OpenAI's: a tool call's `id` and function `name` arrive once, its arguments in
    pieces. llama-cpp-python's server repeats the id and the whole name in every delta of a call,
    which would read as the name written out again and again; such repeats are dropped here.
    Always on: OpenAI never repeats them, so nothing changes for a server that doesn't."""

    def __init__(self) -> None:
        self._headers: dict[tuple[int, int], tuple[Any, Any]] = {}

    def __call__(self, chunk: dict[str, Any]) -> dict[str, Any]:
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            for call in delta.get("tool_calls") or []:
                function = call.get("function") or {}
                key = (int(choice.get("index") or 0), int(call.get("index") or 0))
                header = (call.get("id"), function.get("name"))
                if header[0] and header[1] and self._headers.get(key) == header:
                    call.pop("id", None)
                    function.pop("name", None)
                elif header[1]:
                    self._headers[key] = header
        return chunk
