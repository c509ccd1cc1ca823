"""A scripted OpenAI-compatible Chat Completions server on loopback, standing in for the model.

It is a real HTTP server (Starlette under uvicorn, in a background thread with its own event
loop) that answers `POST /v1/chat/completions`, streaming (SSE `data: {chunk}` ... `data: [DONE]`)
or not, with bodies shaped exactly as the spec's CreateChatCompletionResponse /
CreateChatCompletionStreamResponse (with `usage`; `stream_options.include_usage` adds the final
usage chunk). What it answers comes from a script: a queue of replies, one per request.

Usage::

    provider = ScriptedProvider().start()           # or: with ScriptedProvider() as provider:
    client = AsyncOpenAI(base_url=provider.base_url, api_key="sk-test")
    provider.script(
        ToolCalls(Call("get_weather", {"city": "Paris"})),   # 1st request: one tool call
        Text("It is sunny."),                                # 2nd request: a plain answer
    )
    ... drive the engine ...
    assert provider.requests[0].body["tools"][0]["function"]["name"] == "get_weather"
    assert provider.requests[0].api_key == "sk-test"
    provider.reset()                                # clear script + recordings between tests
    provider.stop()

Replies (each takes `delay=` seconds to wait before answering):

* `Text(content, finish_reason="stop", usage=None, chunk_delay=0.0)` - a plain answer. Streamed
  one word per chunk, `chunk_delay` seconds apart (a "slow stream" to cancel). If the request
  sets `max_completion_tokens` (or `max_tokens`) below the answer's word count, the answer is cut
  there and `finish_reason` is "length". `content` may be a callable taking the request body.
  `ignores_max_completion_tokens` / `no_usage`: as llama-cpp-python (only `max_tokens` cuts;
  no usage chunk even with `stream_options.include_usage`).
* `ToolCalls(Call(name, arguments, id=None), ...)` - one or parallel tool calls
  (`finish_reason="tool_calls"`); `arguments` is a dict (JSON-encoded) or a raw string.
* `RunCode(name="python")` - calls the offered code_interpreter function with the code of the
  last user message (its ```python block, else the whole text); `EchoToolResult(prefix)` answers
  "<prefix> <newest tool result>". `Call.arguments` may also be a callable taking the body.
* `Error(status, message="...", code=None, type=None, retry_after=None)` - an error envelope
  `{"error": {...}}` with that HTTP status and, if given, a `Retry-After` header (seconds).
* `Hang()` - accept the request and never answer (until the client goes away).
* `Malformed(raw)` - a 200 whose JSON is broken (streamed: one bad `data:` event).
* `Cut(content, after, clean=False)` - a stream that stops mid-way after `after` chunks: the
  connection drops (or, with `clean`, the response ends there without a finish or `[DONE]`).
* `SearchFiles(*queries)` - calls the engine's file_search function with those queries;
  `CiteSources(template)` - answers citing the source markers (【…】) of the tool messages since
  the newest user message
  (`template` formats `{first}` / `{all}` / `{count}`); `FileSearchAgent()` - decides per request
  (for `forever`): a user message "search: <query>" with file_search offered -> SearchFiles,
  right after a tool message -> CiteSources, else Echo. `tool_markers(body)` lists the markers.
* `Endless(word="...", chunk_delay=0.0)` - a stream of `word` chunks that never finishes (until
  the client goes away: `disconnected`).

`script(*replies)` appends to the queue. `forever(reply)` makes a reply answer every request
from now on, after the queue is used up (e.g. `forever(Error(500))`). When the queue is empty
and nothing is set forever, the default answer is `Echo()`: "You said: <last user message>".

Usage counts tokens as whitespace-separated words: prompt = words of every message's text
content, completion = words of the answer (tool calls count 1 each) - so tests can predict them.

Model information: `props`, `models`, `ollama_show` (None: 404) are what `GET /props`,
`GET /v1/models` and `POST /api/show` answer, as llama.cpp, llama-cpp-python and Ollama say
their context window; `info_requests` lists the paths asked.

`required_key`: when set, a request whose bearer key differs gets 401 `invalid_api_key`.

Recording: `requests` lists every request received (`RecordedRequest`: body, authorization,
api_key, stream, received_at, finished, disconnected). `await provider.wait_for_requests(n)`
waits until n have arrived. `disconnected` says the client went away before the answer was
complete (e.g. the engine stopped the stream on cancel).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Body = dict[str, Any]

# --- replies ------------------------------------------------------------------------------------


@dataclass
class Text:
    """A plain answer (streamed one word per chunk)."""

    content: str | Callable[[Body], str]
    finish_reason: str = "stop"
    usage: dict[str, int] | None = None
    chunk_delay: float = 0.0
    delay: float = 0.0
    # As llama-cpp-python's server: `max_completion_tokens` not honoured (`max_tokens` is),
    # and no usage streamed (it ignores stream_options).
    ignores_max_completion_tokens: bool = False
    no_usage: bool = False


def Echo(delay: float = 0.0) -> Text:
    """Answers "You said: <text of the last user message>"."""
    return Text(lambda body: f"You said: {last_user_text(body)}", delay=delay)


@dataclass
class Call:
    """One function call the model makes."""

    name: str
    # A dict (JSON-encoded), a raw string, or a callable taking the request body.
    arguments: dict[str, Any] | str | Callable[[Body], dict[str, Any] | str] = field(
        default_factory=dict
    )
    id: str | None = None

    def arguments_json(self, body: Body | None = None) -> str:
        arguments = self.arguments(body or {}) if callable(self.arguments) else self.arguments
        if isinstance(arguments, str):
            return arguments
        return json.dumps(arguments)


def code_in(text: str) -> str:
    """The code of a message: its first ```python fenced block, else the whole text."""
    match = re.search(r"```(?:python)?\n(.*?)```", text, re.S)
    return match.group(1) if match else text


def RunCode(name: str = "python", delay: float = 0.0) -> ToolCalls:
    """Calls the offered code function (code_interpreter) with the code from the last user
    message (a ```python block, else the whole message) as {"code": ...}."""
    return ToolCalls(Call(name, lambda body: {"code": code_in(last_user_text(body))}), delay=delay)


def last_tool_text(body: Body) -> str:
    """The content of the newest tool-result message ("" if none)."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "tool":
            return message_text(message)
    return ""


def EchoToolResult(prefix: str = "Result:", delay: float = 0.0) -> Text:
    """Answers "<prefix> <the newest tool result>" (e.g. after RunCode)."""
    return Text(lambda body: f"{prefix} {last_tool_text(body)}", delay=delay)


@dataclass
class ToolCalls:
    """One or more (parallel) tool calls."""

    calls: tuple[Call, ...]
    delay: float = 0.0
    chunk_delay: float = 0.0
    usage: dict[str, int] | None = None

    def __init__(
        self,
        *calls: Call,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        usage: dict[str, int] | None = None,
    ) -> None:
        self.calls = calls
        self.delay = delay
        self.chunk_delay = chunk_delay
        self.usage = usage


@dataclass
class Error:
    """An HTTP error with OpenAI's envelope."""

    status: int
    message: str = "The scripted provider failed on purpose."
    code: str | None = None
    type: str | None = None
    retry_after: float | None = None
    delay: float = 0.0


@dataclass
class Hang:
    """Never answer: the request stays open until the client gives up."""

    delay: float = 0.0


@dataclass
class Malformed:
    """A 200 whose body is not valid JSON: `raw` as the whole body, or (streamed) as a `data:`
    event after the first chunk."""

    raw: str = '{"id": "chatcmpl-broken", "choices": [{"delta": {"content": "cut'
    delay: float = 0.0


@dataclass
class Cut:
    """A streamed answer that stops mid-way: after `after` chunks of `content` the connection
    drops (no finish reason, no `[DONE]`); with `clean`, the response just ends there."""

    content: str = "This answer stops right in the middle of"
    after: int = 3
    clean: bool = False
    delay: float = 0.0


MARKER = re.compile(r"【[^】]*】")


def tool_markers(body: Body) -> list[str]:
    """The source markers in the tool messages since the newest user message, in order."""
    found: list[str] = []
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            break
        if message.get("role") == "tool":
            found = MARKER.findall(message_text(message)) + found
    return found


def SearchFiles(*queries: str, id: str | None = None) -> ToolCalls:
    """Calls the engine's file_search function."""
    return ToolCalls(Call("file_search", {"queries": list(queries)}, id=id))


def CiteSources(template: str = "The answer is in {first}.") -> Text:
    """Answers citing the markers the newest tool message gave."""

    def answer(body: Body) -> str:
        found = tool_markers(body)
        if not found:
            return "I found nothing in the files."
        return template.format(first=found[0], all=" ".join(found), count=len(found))

    return Text(answer)


@dataclass
class FileSearchAgent:
    """Decides its reply from the request (see the module docstring)."""

    def decide(self, body: Body) -> Text | ToolCalls:
        messages = body.get("messages", [])
        if messages and messages[-1].get("role") == "tool":
            return CiteSources()
        offered = {t["function"]["name"] for t in body.get("tools", []) if "function" in t}
        asked = last_user_text(body)
        if "file_search" in offered and asked.lower().startswith("search:"):
            return SearchFiles(asked[len("search:") :].strip())
        return Echo()


@dataclass
class Endless:
    """A streamed answer that never ends: `word` after `word` until the client goes away."""

    word: str = "endless " * 125
    chunk_delay: float = 0.0
    delay: float = 0.0


class _Dropped(Exception):
    """Raised inside a streamed answer so the server drops the connection (Cut)."""


Reply = Text | ToolCalls | Error | Hang | Malformed | Cut | Endless | FileSearchAgent

# --- recordings ---------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    body: Body
    authorization: str | None
    headers: dict[str, str]
    received_at: float
    reply: Reply | None = None
    finished: bool = False
    disconnected: bool = False
    chunks_sent: int = 0  # stream chunks written so far (a test waits for text flowing)

    @property
    def api_key(self) -> str | None:
        if self.authorization and self.authorization.lower().startswith("bearer "):
            return self.authorization[7:]
        return None

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def messages(self) -> list[Body]:
        return list(self.body.get("messages", []))


def message_text(message: Body) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(body: Body) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            return message_text(message)
    return ""


# Words the scripted embeddings treat as one concept (a vector search finds "felines" in a
# text about cats; a keyword search does not).
EMBEDDING_CONCEPTS = {"feline": "cat", "felines": "cat", "cats": "cat", "kitten": "cat"}


def _bag_of_words(text: str, dims: int) -> list[float]:
    import hashlib
    import math
    import re

    vector = [0.0] * dims
    for word in re.findall(r"\w+", text.lower()):
        word = EMBEDDING_CONCEPTS.get(word, word)
        slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
        vector[slot % dims] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _words(text: str) -> int:
    return len(text.split())


# --- the server ---------------------------------------------------------------------------------


class ScriptedProvider:
    """The scripted Chat Completions server; see the module docstring."""

    def __init__(self, *, required_key: str | None = None) -> None:
        self.required_key = required_key
        self.requests: list[RecordedRequest] = []
        self.embedding_requests: list[RecordedRequest] = []
        self.embedding_delay = 0.0  # seconds each /v1/embeddings answer takes
        # What the server says of its model's context window, as llama.cpp (`GET /props`),
        # llama-cpp-python / llama.cpp (`GET /v1/models`) and Ollama (`POST /api/show`) do;
        # None: that route answers 404. `info_requests` records the paths asked.
        self.props: Body | None = None
        self.models: list[Body] | None = None
        self.ollama_show: Body | None = None
        self.info_requests: list[str] = []
        self._queue: deque[Reply] = deque()
        self._forever: Reply | None = None
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- scripting -------------------------------------------------------------------------------

    def script(self, *replies: Reply) -> ScriptedProvider:
        with self._lock:
            self._queue.extend(replies)
        return self

    def forever(self, reply: Reply | None) -> ScriptedProvider:
        with self._lock:
            self._forever = reply
        return self

    def reset(self) -> None:
        """Forget the script and the recorded requests (the server keeps running)."""
        with self._lock:
            self._queue.clear()
            self._forever = None
            self.requests.clear()
            self.embedding_requests.clear()
            self.required_key = None
            self.props = self.models = self.ollama_show = None
            self.info_requests.clear()

    @property
    def pending(self) -> int:
        """Replies still queued."""
        with self._lock:
            return len(self._queue)

    def _next_reply(self) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            return self._forever or Echo()

    async def wait_for_requests(self, count: int, within: float = 10.0) -> list[RecordedRequest]:
        """Wait until `count` requests have arrived (TimeoutError after `within` seconds)."""
        for _ in range(int(within / 0.01)):  # polled: requests arrive on the server's thread
            if len(self.requests) >= count:
                return self.requests
            await asyncio.sleep(0.01)
        raise TimeoutError(f"expected {count} provider requests, got {len(self.requests)}")

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedProvider:
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
        # and without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="provider"
        )
        self._thread.start()
        deadline = time.monotonic() + 60  # a readiness wait: slow only on a loaded machine
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the scripted provider did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedProvider:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- HTTP ------------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
                Route("/chat/completions", self._chat_completions, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/props", self._info, methods=["GET"]),
                Route("/v1/models", self._info, methods=["GET"]),
                Route("/api/show", self._info, methods=["POST"]),
            ]
        )

    async def _info(self, request: Request) -> Response:
        """What the server says of its model (see `props`, `models`, `ollama_show`)."""
        path = request.url.path
        self.info_requests.append(path)
        found: Any = {
            "/props": self.props,
            "/v1/models": None if self.models is None else {"object": "list", "data": self.models},
            "/api/show": self.ollama_show,
        }[path]
        if found is None:
            return _error_response(Error(404, f"No route {path}."))
        return JSONResponse(found)

    async def _embeddings(self, request: Request) -> Response:
        """`POST /v1/embeddings`: a hashed bag of words per input (after EMBEDDING_CONCEPTS),
        so texts sharing words or concepts are near; recorded in `embedding_requests`."""
        body = await request.json()
        record = RecordedRequest(
            body=body,
            authorization=request.headers.get("authorization"),
            headers=dict(request.headers),
            received_at=time.time(),
        )
        self.embedding_requests.append(record)
        if self.required_key is not None and record.api_key != self.required_key:
            return _error_response(
                Error(401, "Incorrect API key provided.", code="invalid_api_key")
            )
        await asyncio.sleep(self.embedding_delay)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dims = int(body.get("dimensions") or 64)
        data = [
            {"object": "embedding", "index": i, "embedding": _bag_of_words(text, dims)}
            for i, text in enumerate(inputs)
        ]
        tokens = sum(_words(text) for text in inputs)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _chat_completions(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error_response(Error(400, "We could not parse the JSON body of your request."))
        record = RecordedRequest(
            body=body,
            authorization=request.headers.get("authorization"),
            headers=dict(request.headers),
            received_at=time.time(),
        )
        self.requests.append(record)
        if self.required_key is not None and record.api_key != self.required_key:
            record.finished = True
            return _error_response(
                Error(401, "Incorrect API key provided.", code="invalid_api_key")
            )
        reply = self._next_reply()
        if isinstance(reply, FileSearchAgent):
            reply = reply.decide(body)
        record.reply = reply
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if isinstance(reply, Hang):
            while not await request.is_disconnected():  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.05)
            record.disconnected = True
            return Response(status_code=499)
        if isinstance(reply, Error):
            record.finished = True
            return _error_response(reply)
        if isinstance(reply, Malformed):
            record.finished = True
            if not record.stream:
                return Response(reply.raw, media_type="application/json")
            first = json.dumps(_chunks(body, Text(""))[0])
            events = [f"data: {first}\n\n", f"data: {reply.raw}\n\n", "data: [DONE]\n\n"]
            return StreamingResponse(iter(events), media_type="text/event-stream")
        if isinstance(reply, Endless):
            return StreamingResponse(_endless(record, reply), media_type="text/event-stream")
        if isinstance(reply, Cut):
            cut = _chunks(body, Text(reply.content))[: reply.after]
            stream = _cut_stream(record, cut, reply.clean)
            return StreamingResponse(stream, media_type="text/event-stream")
        if record.stream:
            return StreamingResponse(
                self._stream(record, reply),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        record.finished = True
        return JSONResponse(_completion(body, reply))

    async def _stream(self, record: RecordedRequest, reply: Text | ToolCalls) -> AsyncIterator[str]:
        try:
            for chunk in _chunks(record.body, reply):
                if reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
                yield f"data: {json.dumps(chunk)}\n\n"
                record.chunks_sent += 1
            yield "data: [DONE]\n\n"
            record.finished = True
        finally:
            if not record.finished:
                record.disconnected = True


async def _cut_stream(
    record: RecordedRequest, chunks: list[Body], clean: bool
) -> AsyncIterator[str]:
    for chunk in chunks:
        yield f"data: {json.dumps(chunk)}\n\n"
        await asyncio.sleep(0.01)
    record.finished = clean
    if not clean:
        raise _Dropped("the scripted provider drops the connection mid-stream")


async def _endless(record: RecordedRequest, reply: Endless) -> AsyncIterator[str]:
    first = _chunks(record.body, Text(""))[0]
    try:
        yield f"data: {json.dumps(first)}\n\n"
        piece = json.dumps(
            {
                **first,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": reply.word},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
            }
        )
        while True:
            await asyncio.sleep(reply.chunk_delay)  # 0: still lets the client's close through
            yield f"data: {piece}\n\n"
    finally:
        record.disconnected = True


def _error_response(error: Error) -> JSONResponse:
    default_type = {401: "invalid_request_error", 429: "requests"}.get(error.status, "server_error")
    if 400 <= error.status < 500 and error.status not in (401, 429):
        default_type = "invalid_request_error"
    headers = {"retry-after": f"{error.retry_after:g}"} if error.retry_after is not None else {}
    content = {
        "error": {
            "message": error.message,
            "type": error.type or default_type,
            "param": None,
            "code": error.code,
        }
    }
    return JSONResponse(content, error.status, headers=headers)


# --- response bodies ----------------------------------------------------------------------------


def _max_tokens(body: Body) -> int | None:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return int(value) if isinstance(value, int) else None


def _answer(body: Body, reply: Text) -> tuple[str, str]:
    """The answer text and finish reason, cut at the request's max tokens (words)."""
    text = reply.content(body) if callable(reply.content) else reply.content
    limit = _max_tokens(body)
    if reply.ignores_max_completion_tokens:
        limit = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else None
    if limit is not None and _words(text) > limit:
        return " ".join(text.split()[:limit]), "length"
    return text, reply.finish_reason


def _usage(body: Body, reply: Text | ToolCalls, completion: int) -> dict[str, Any]:
    if reply.usage is not None:
        usage = dict(reply.usage)
        usage.setdefault(
            "total_tokens", usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        )
        return usage
    prompt = sum(_words(message_text(m)) for m in body.get("messages", []))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _call_ids(reply: ToolCalls) -> list[str]:
    return [c.id or f"call_{secrets.token_hex(12)}" for c in reply.calls]


def _completion(body: Body, reply: Text | ToolCalls) -> Body:
    """A CreateChatCompletionResponse."""
    message: Body = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
    if isinstance(reply, Text):
        text, finish = _answer(body, reply)
        message["content"] = text
        completion_tokens = _words(text)
    else:
        finish = "tool_calls"
        ids = _call_ids(reply)
        message["tool_calls"] = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_json(body)},
            }
            for call_id, c in zip(ids, reply.calls, strict=True)
        ]
        completion_tokens = len(reply.calls)
    return {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(body, reply, completion_tokens),
        "service_tier": "default",
        "system_fingerprint": "fp_scripted",
    }


def _chunks(body: Body, reply: Text | ToolCalls) -> list[Body]:
    """The CreateChatCompletionStreamResponse chunks for `reply`."""
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    base = {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "service_tier": "default",
        "system_fingerprint": "fp_scripted",
    }

    def chunk(delta: Body, finish: str | None = None) -> Body:
        out = {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            out["usage"] = None
        return out

    chunks = []
    if isinstance(reply, Text):
        text, finish = _answer(body, reply)
        chunks.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            if piece:
                chunks.append(chunk({"content": piece}))
        completion_tokens = _words(text)
    else:
        finish = "tool_calls"
        chunks.append(chunk({"role": "assistant", "content": None, "refusal": None}))
        for index, (call_id, call) in enumerate(zip(_call_ids(reply), reply.calls, strict=True)):
            head = {"index": index, "id": call_id, "type": "function"}
            head["function"] = {"name": call.name, "arguments": ""}
            chunks.append(chunk({"tool_calls": [head]}))
            arguments = call.arguments_json(body)
            step = max(1, len(arguments) // 3)
            for start in range(0, len(arguments), step):
                piece = {"index": index, "function": {"arguments": arguments[start : start + step]}}
                chunks.append(chunk({"tool_calls": [piece]}))
        completion_tokens = len(reply.calls)
    chunks.append(chunk({}, finish))
    if include_usage and not getattr(reply, "no_usage", False):
        chunks.append({**base, "choices": [], "usage": _usage(body, reply, completion_tokens)})
    return chunks
