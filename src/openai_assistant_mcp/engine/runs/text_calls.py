"""Tool calls a model wrote as text: small local models (and servers without a tool-call parser
for them) answer a request that offered tools with the call written out, e.g.

    {"name": "get_weather", "arguments": {"city": "Paris"}}
    ```json\n{"name": ...}\n```
    <tool_call>\n{"name": ...}\n</tool_call>
    [{"name": ...}, {"name": ...}]

An answer that is *only* such calls, each naming an offered tool, is taken as those calls
(`parse`); anything else (prose around it, a JSON answer of another shape, a tool that was not
offered) stays the answer. `undecided` says whether a streamed answer could still turn out to
be a call, so its text is held back until it is known (docs/runs.md)."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

# A fenced block (```json, ```tool_call, or bare), or <tool_call> … </tool_call> tags (also
# <json> and <tools>, as Qwen2.5-0.5B wrote them in the task suite).
_FENCE = re.compile(r"```[\w-]*[ \t]*\n?(.*?)```", re.S)
_TAGS = re.compile(r"<(?:tool_call|tools|json)>(.*?)</(?:tool_call|tools|json)>", re.S)
# The openings a call may start with, as written by the models seen (tags, fences, JSON).
_OPENINGS = ("<tool_call>", "<tools>", "<json>", "```", "{", "[")
# Keys an object that is a call may begin with; any other first key decides: not a call.
_CALL_KEYS = {"name", "arguments", "parameters", "function", "type", "id", "tool", "tool_name"}
_FIRST_KEY = re.compile(r'^(?:\[\s*)?\{\s*"([^"\\]{0,40})"')
_TRIPLE = re.compile(r'"""(.*?)"""', re.S)
# Text held back while undecided is at most this long: a call is shorter.
MAX_HELD_CHARS = 20_000


@dataclass(frozen=True)
class TextCall:
    name: str
    arguments: str  # JSON text of an object


def parse(
    text: str, offered: Collection[str], code_tool: str | None = None
) -> list[TextCall] | None:
    """The calls `text` consists of, or None when it is not only calls of `offered` tools
    (with `code_tool`, see `_call`)."""
    body = _without_stray_fence(text.strip())
    if not body or len(body) > MAX_HELD_CHARS:
        return None
    for pattern in (_TAGS, _FENCE):
        if pattern.search(body):
            if pattern.sub("", body).strip():  # prose beside the blocks: an answer
                return None
            found: list[TextCall] = []
            for block in pattern.findall(body):
                calls = _calls_in(block, offered, code_tool)
                if calls is None:
                    return None
                found += calls
            return found or None
    return _calls_in(body, offered, code_tool)


_STRAY_OPENING = re.compile(r"^```[\w-]*[ \t]*\n?")


def _without_stray_fence(body: str) -> str:
    """`body` without a fence that has no partner, at its start or its end (Qwen2.5-0.5B closed
    a call with a fence it never opened)."""
    if body.count("```") != 1:
        return body
    if body.endswith("```"):
        return body[:-3].rstrip()
    return _STRAY_OPENING.sub("", body) if body.startswith("```") else body


def _calls_in(
    block: str, offered: Collection[str], code_tool: str | None = None
) -> list[TextCall] | None:
    try:
        value = _loads(block.strip())
    except ValueError:
        # One call a line: the same written again and again (taken once), or several calls.
        values = _values(block)
        if len(values) < 2 or _values_end(block) < len(block.rstrip()):
            return None
        value = [v for i, v in enumerate(values) if v not in values[:i]]
    items = value if isinstance(value, list) else [value]
    calls = [_call(item, offered, code_tool) for item in items]
    if not calls or any(call is None for call in calls):
        return None
    return [call for call in calls if call is not None]


def _loads(text: str) -> Any:
    """JSON as small models write it: raw newlines inside strings (strict=False, as
    grammar-constrained output has them); Python's triple-quoted strings for code (three
    double quotes around indented lines, as Qwen2.5-0.5B wrote `code`), read as the dedented
    text."""
    try:
        return json.loads(text, strict=False)
    except ValueError:
        if '"""' in text:
            quoted = _TRIPLE.sub(
                lambda m: json.dumps(textwrap.dedent(m.group(1)).strip("\n")), text
            )
            return json.loads(quoted, strict=False)
        closed = _closed(text)
        if closed is None:
            raise
    return json.loads(closed, strict=False)


def _closed(text: str) -> str | None:
    """`text` with what it left open closed, as Qwen2.5-0.5B left its calls: a string whose
    closing quote is missing before the final braces (`{"code": "print(x)}}`), braces never
    closed (a fenced call one `}` short). None when that cannot be it (a bracket closed out of
    order, a string left open on a backslash)."""
    expected, in_string, escaped = [], False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            expected.append("}" if char == "{" else "]")
        elif char in "}]":
            if not expected or expected.pop() != char:
                return None
    if in_string:
        body = text.rstrip()
        cut = len(body.rstrip("}] \n\t"))  # the closers the string swallowed go after it
        if escaped or body[:cut].endswith("\\"):
            return None
        repaired = body[:cut] + '"' + body[cut:]
        return None if '"' in text[-1:] else _closed(repaired)
    return text + "".join(reversed(expected))


def _call(item: Any, offered: Collection[str], code_tool: str | None = None) -> TextCall | None:
    """`item` as a call of an offered tool; a call of another name whose only argument is
    `code` is one of `code_tool` (Qwen2.5-0.5B named its code_interpreter calls
    `compute_mean_price`, `meanPriceColumn`: the code is what it meant to run)."""
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("function"), dict):  # {"type": "function", "function": {...}}
        item = item["function"]
    name = item.get("name")
    if isinstance(name, str) and name not in offered and code_tool:
        arguments = item.get("arguments")
        if isinstance(arguments, dict) and set(arguments) == {"code"}:
            name = code_tool
    if not isinstance(name, str) or name not in offered:
        return None
    extra = set(item) - {"name", "arguments", "parameters", "type", "id"}
    if extra:  # an object with other fields is data, not a call
        return None
    arguments = item.get("arguments", item.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments, strict=False) if arguments.strip() else {}
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return TextCall(name, json.dumps(arguments, ensure_ascii=False))


def _values(text: str, most: int = 1000) -> list[Any]:
    """The whole JSON values `text` holds one after another (whitespace between), up to the
    first that is not whole yet; [] if anything else stands between them."""
    decoder = json.JSONDecoder(strict=False)
    values: list[Any] = []
    position = 0
    while len(values) < most:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        try:
            value, position = decoder.raw_decode(text, position)
        except ValueError:
            break
        values.append(value)
    return values


def _values_end(text: str) -> int:
    """Where the whole JSON values at the start of `text` end (`_values`)."""
    decoder = json.JSONDecoder(strict=False)
    position = end = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        try:
            _, position = decoder.raw_decode(text, position)
        except ValueError:
            return end
        end = position


def repeated(
    text: str, offered: Collection[str], code_tool: str | None = None
) -> list[TextCall] | None:
    """The call a streamed answer is writing over again (small models loop so after a tool's
    output: `{"name": ...}` one a line until the token limit), once it has written it twice."""
    values = _values(text.strip(), most=2)
    if len(values) < 2 or values[0] != values[1]:
        return None
    call = _call(values[0], offered, code_tool)
    return [call] if call is not None else None


def undecided(text: str) -> bool:
    """Whether a streamed answer that begins with `text` may still be only tool calls."""
    body = text.lstrip()
    if not body:
        return True
    if len(body) > MAX_HELD_CHARS:
        return False
    if not any(o.startswith(body) or body.startswith(o) for o in _OPENINGS):
        return False
    first = _FIRST_KEY.match(body)
    return first is None or first.group(1) in _CALL_KEYS


def looked_for(request: dict[str, Any], enabled: bool) -> list[str]:
    """The tool names a call written as text may name in this request (none: not looked for):
    not with `tool_choice: "none"`, nor when a JSON answer was asked for."""
    format_type = (request.get("response_format") or {}).get("type")
    if (
        not enabled
        or request.get("tool_choice") == "none"
        or format_type in ("json_object", "json_schema")
    ):
        return []
    return [tool["function"]["name"] for tool in request.get("tools") or ()]


def code_tool(request: dict[str, Any]) -> str | None:
    """The one offered function whose only parameter is `code` (code_interpreter's), if any."""
    found = [
        tool["function"]["name"]
        for tool in request.get("tools") or ()
        if set((tool["function"].get("parameters") or {}).get("properties") or {}) == {"code"}
    ]
    return found[0] if len(found) == 1 else None


class Held:
    """A streamed answer's text, held back while it may still be only tool calls of `offered`
    (nothing is held when that list is empty)."""

    def __init__(
        self, offered: list[str], hold_all: bool = False, code_tool: str | None = None
    ) -> None:
        self.offered = offered
        self.code_tool = code_tool if offered else None
        self.hold_all = hold_all  # held to the end, whatever it is (see Turn._forced_call)
        self.text: list[str] | None = [] if offered or hold_all else None
        self.repeating: list[TextCall] | None = None  # the call being written over again

    def pass_on(self, text: str, has_calls: bool) -> str:
        """What of the answer to show now: `text`, or all held so far once it is decided it
        is no call, or "" while still undecided."""
        if self.text is None:
            return text
        self.text.append(text)
        whole = "".join(self.text)
        if has_calls or not (self.hold_all or undecided(whole)):
            self.text = None
            return whole
        if self.offered and "\n" in text:  # a line ended: a call written again?
            self.repeating = repeated(whole, self.offered, self.code_tool)
        return ""

    def finish(self, no_calls: bool) -> tuple[str, list[TextCall]]:
        """At the stream's end: the text still to show, or the calls the answer was."""
        whole = "".join(self.text or [])
        self.text = None
        if self.repeating and not no_calls:
            return "", self.repeating
        found = None if no_calls or not whole else parse(whole, self.offered, self.code_tool)
        return ("", found) if found else (whole, [])
