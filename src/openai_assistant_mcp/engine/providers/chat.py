"""The Chat Completions provider: the official openai SDK on OPENAI_BASE_URL (default OpenAI).

The SDK retries 408/409/429/5xx answers and connection errors with exponential backoff,
honouring `Retry-After`; what still fails becomes a `ProviderFailure` whose `code` is the run's
`last_error.code`, unless the error calls for a request adaptation (compat.py), in which case the
request is sent again adapted. Keys are passed per call and never appear in a failure's message."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx2
import openai

from ...http.credentials import redact
from .compat import Compatibility, RepeatedCallHeaders
from .context import ContextWindows

log = logging.getLogger(__name__)

# Sent when neither the caller nor the server has a key: local providers (Ollama, vLLM,
# llama.cpp) need none, and the SDK refuses to build a client without one.
NO_KEY = "no-key"

_BROKE_OFF = "The model provider's stream broke off before the answer was complete."
_ENDED_EARLY = "The model provider's stream ended before the answer was complete."


class ProviderFailure(Exception):
    """A provider call that failed for good; `code` and `message` are safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ChatProvider:
    """Streams chat completions from one OpenAI-compatible endpoint."""

    def __init__(
        self,
        base_url: str | None,
        server_key: str | None,
        *,
        timeout: float,
        max_retries: int,
        compat: str = "",
        text_tool_calls: str = "auto",
        engine_citations: str = "auto",
        context_tokens: int | None = None,
    ) -> None:
        self.server_key = server_key
        self.max_retries = max_retries
        self.compat = Compatibility(compat)
        self._client = openai.AsyncOpenAI(
            base_url=base_url or "https://api.openai.com/v1",
            api_key=server_key or NO_KEY,
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
            max_retries=max_retries,
        )
        # Tool calls written as text are taken as calls (runs/text_calls.py): by default for
        # every provider but OpenAI, whose API returns calls as calls (a JSON answer there is
        # an answer).
        openai_itself = self._client.base_url.host == "api.openai.com"
        self.text_tool_calls = text_tool_calls == "on" or (
            text_tool_calls == "auto" and not openai_itself
        )
        # The engine cites file_search results the answer uses when the model writes no
        # marker (runs/engine_citations.py): by default for every provider but OpenAI, whose
        # models write the markers themselves.
        self.engine_citations = engine_citations == "on" or (
            engine_citations == "auto" and not openai_itself
        )
        self.windows = ContextWindows(str(self._client.base_url), context_tokens)

    @property
    def base_url(self) -> str:
        """The provider's URL as shown in errors: without any user:password in it."""
        url = self._client.base_url
        return str(url.copy_with(userinfo=b"")) if url.userinfo else str(url)

    def budget_ignored(self) -> None:
        """The provider streamed past the request's completion budget: from now on the budget
        goes out as `max_tokens` (the `max_tokens` adaptation), the name older servers know."""
        if "max_tokens" in self.compat.active:
            return
        self.compat.active.append("max_tokens")
        log.warning(
            "The model provider at %s went on past max_completion_tokens; the engine stopped "
            "it and sends max_tokens from now on; set PROVIDER_COMPAT=%s to start so.",
            self.base_url,
            ",".join(self.compat.active),
        )

    def key_for(self, caller_key: str | None) -> str | None:
        """The caller's key when they sent one, else the server's own."""
        return caller_key or self.server_key

    async def stream(
        self, request: dict[str, Any], api_key: str | None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The chunks (CreateChatCompletionStreamResponse dicts) of one streamed completion,
        usage included in the last one, sent as this provider needs it (compat.py)."""
        while True:  # at most once more per adaptation: learn() never repeats one
            answered = False
            normalize = RepeatedCallHeaders()
            try:
                async for chunk in self._stream(self.compat.adapt(request), api_key):
                    answered = True
                    yield normalize(chunk)
                return
            except openai.APIStatusError as exc:
                # Matched whole (causes may come late in a long validation error); shown scrubbed.
                message = _provider_message(exc)
                learned = None if answered else self.compat.learn(request, message)
                if learned is None:
                    raise failure_from_status(exc, api_key, self.max_retries) from None
                log.warning(
                    "The model provider at %s refused a request (HTTP %s: %s); sending it "
                    "adapted (%s) from now on; set PROVIDER_COMPAT=%s to skip this refusal.",
                    self.base_url,
                    exc.status_code,
                    scrub(message, api_key),
                    learned,
                    ",".join(self.compat.active),
                )

    async def _stream(
        self, request: dict[str, Any], api_key: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        """One streamed completion. The SDK sends the request (retries included); the events
        are parsed here, as plain JSON, which costs a fraction of building models. An HTTP
        error status is raised as is, for stream() to judge."""
        client = self._client
        if api_key and api_key != self.server_key:
            client = self._client.with_options(api_key=api_key)
        answering = ended = False
        try:
            async with client.chat.completions.with_streaming_response.create(
                **request, stream=True, stream_options={"include_usage": True}
            ) as response:
                answering = True
                async for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue  # blank lines, comments, `event:` lines
                    data = line[5:].strip()
                    if data == "[DONE]":
                        ended = True
                        break
                    chunk = json.loads(data)
                    if not isinstance(chunk, dict):
                        raise ValueError("a chunk must be a JSON object")
                    if chunk.get("error"):
                        raise _stream_error(chunk["error"], api_key)
                    ended = ended or any(c.get("finish_reason") for c in chunk.get("choices") or [])
                    yield chunk
            if not ended:  # neither a finish_reason nor [DONE]
                raise ProviderFailure("server_error", _ENDED_EARLY)
        except openai.APIStatusError:
            raise
        except (openai.APITimeoutError, httpx2.TimeoutException):
            raise ProviderFailure(
                "server_error", "The model provider did not answer in time."
            ) from None
        except (openai.APIConnectionError, httpx2.TransportError):
            if answering:
                raise ProviderFailure("server_error", _BROKE_OFF) from None
            raise ProviderFailure(
                "server_error", f"Could not connect to the model provider at {self.base_url}."
            ) from None
        except (ValueError, AttributeError):
            raise ProviderFailure(
                "server_error", "The model provider sent a stream chunk that is not JSON."
            ) from None

    async def close(self) -> None:
        await self._client.close()


def _stream_error(error: Any, api_key: str | None) -> ProviderFailure:
    message = error.get("message") if isinstance(error, dict) else None
    detail = scrub(str(message or "an error in the middle of the stream"), api_key)
    return context_failure(detail, error) or ProviderFailure(
        "server_error", f"The model provider failed: {detail}"
    )


# What servers say when the prompt does not fit the window: (prompt tokens, window) groups.
_CONTEXT_ERRORS = (
    # llama-cpp-python: "Requested tokens (16545) exceed context window of 2048"
    re.compile(r"Requested tokens \((?P<prompt>\d+)\) exceed context window of (?P<window>\d+)"),
    # OpenAI, vLLM, llama-cpp-python's formatter: "maximum context length is 2048 tokens.
    # However, you requested 16545 tokens"
    re.compile(
        r"maximum context length is (?P<window>\d+) tokens.{0,80}?(?:requested|resulted in) "
        r"(?P<prompt>\d+) tokens",
        re.S,
    ),
    # llama.cpp's llama-server (its error also carries n_prompt_tokens and n_ctx)
    re.compile(r"exceeds the available context size"),
    re.compile(r"context (?:length|window|size) (?:exceeded|is too small)", re.I),
)


def context_failure(text: str, error: Any = None) -> ProviderFailure | None:
    """The failure to report when the provider's error says the prompt exceeded the model's
    context window (numbers from the text or the error's fields), else None."""
    for pattern in _CONTEXT_ERRORS:
        found = pattern.search(text)
        if found is None:
            continue
        fields = error if isinstance(error, dict) else {}
        groups = found.groupdict()
        prompt = groups.get("prompt") or fields.get("n_prompt_tokens")
        window = groups.get("window") or fields.get("n_ctx")
        return ProviderFailure("invalid_prompt", too_long_message(prompt, window, said=text))
    return None


def too_long_message(
    prompt: int | str | None, window: int | str | None, *, said: str = "", answer: int = 0
) -> str:
    """last_error's text for a prompt that does not fit the model's context window."""
    if prompt and window:
        head = f"The prompt needs {prompt} tokens but the model's context window is {window}"
        head += f" tokens ({answer} kept for the answer)." if answer else " tokens."
    else:
        head = f"The prompt exceeds the model's context window (the provider said: {said})."
    return (
        head + " Shorten the thread (truncation_strategy auto or fewer last_messages), the "
        "instructions or file_search's max_num_results, lower max_completion_tokens, or start "
        "the model with a larger context (llama.cpp --ctx-size, llama-cpp-python --n_ctx, "
        "Ollama num_ctx) and set PROVIDER_CONTEXT_TOKENS if the server does not report it."
    )


_NO_DETAILS = "no details given"


def failure_from_status(
    exc: openai.APIStatusError, api_key: str | None, retries: int
) -> ProviderFailure:
    status = exc.status_code
    detail = scrub(_provider_message(exc), api_key)
    if status in (401, 403):
        # The provider's text may quote part of the key: say only what happened.
        return ProviderFailure(
            "invalid_api_key", f"The model provider refused the API key (HTTP {status})."
        )
    if status == 429:
        return ProviderFailure(
            "rate_limit_exceeded",
            f"The model provider is rate limiting requests (HTTP 429, still after {retries} "
            f"retries): {detail}",
        )
    found = context_failure(detail, _error_fields(exc))
    if found is not None:
        return found
    if status >= 500:
        return ProviderFailure(
            "server_error",
            f"The model provider failed (HTTP {status}, still after {retries} retries): {detail}",
        )
    if status == 404 and detail == _NO_DETAILS:
        # No such path: the base URL is wrong, most often missing its /v1 (Ollama, vLLM...).
        url = scrub(str(exc.request.url), api_key)
        return ProviderFailure(
            "server_error",
            f"The model provider answered HTTP 404 (not found) at {url}: check OPENAI_BASE_URL; "
            "OpenAI-compatible servers usually serve under /v1 (e.g. http://localhost:11434/v1).",
        )
    return ProviderFailure(
        "invalid_prompt", f"The model provider refused the request (HTTP {status}): {detail}"
    )


def _error_fields(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return dict(body["error"])
    return dict(body) if isinstance(body, dict) else {}


def _provider_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if isinstance(message, str) and message:
            return message
    return _NO_DETAILS


def scrub(text: str, api_key: str | None) -> str:
    """`text` without the key or anything shaped like one, cut to one short line."""
    return redact(text, api_key)[:400]
