"""The scripted provider itself, through the official openai SDK: shapes match the spec."""

from __future__ import annotations

import asyncio
import json
import time

import openai
import pytest
from openai import AsyncOpenAI

from tests.support.scripted_provider import (
    Call,
    EchoToolResult,
    Error,
    Hang,
    RunCode,
    ScriptedProvider,
    Text,
    ToolCalls,
)
from tests.support.spec import problems

RESPONSE = "CreateChatCompletionResponse"
CHUNK = "CreateChatCompletionStreamResponse"


def client(provider: ScriptedProvider, **kwargs: object) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=provider.base_url, api_key="sk-provider", **kwargs)  # type: ignore[arg-type]


def chunk_problems(chunk: dict) -> list[str]:
    return problems(chunk, CHUNK)


async def test_default_echo_and_usage(provider: ScriptedProvider) -> None:
    answer = await client(provider).chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "hello there"}]
    )
    assert answer.choices[0].message.content == "You said: hello there"
    assert answer.usage is not None and answer.usage.prompt_tokens == 2
    assert answer.usage.completion_tokens == 4
    raw = provider.requests[0]
    assert raw.api_key == "sk-provider" and raw.body["model"] == "m1" and not raw.stream


async def test_non_stream_body_matches_spec(provider: ScriptedProvider) -> None:
    provider.script(Text("one two"), ToolCalls(Call("f", {"a": 1}), Call("g", "{}")))
    api = client(provider)
    for _ in range(2):
        response = await api.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
        body = json.loads(response.http_response.content)
        assert problems(body, RESPONSE) == []
    calls = body["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["f", "g"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"a": 1}
    assert body["choices"][0]["finish_reason"] == "tool_calls"


async def test_stream_text_tool_calls_and_usage(provider: ScriptedProvider) -> None:
    provider.script(Text("a b c"), ToolCalls(Call("lookup", {"q": "paris"}, id="call_1")))
    api = client(provider)
    async with api.chat.completions.with_streaming_response.create(
        model="m",
        messages=[{"role": "user", "content": "x"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        lines = [line async for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    text, finish, usage = "", None, None
    for chunk in chunks:
        assert chunk_problems(chunk) == []
        if chunk["choices"]:
            text += chunk["choices"][0]["delta"].get("content") or ""
            finish = chunk["choices"][0]["finish_reason"] or finish
        usage = chunk["usage"] or usage
    assert (text, finish) == ("a b c", "stop")
    assert usage is not None and usage["completion_tokens"] == 3

    stream = await api.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    arguments, names, ids = "", [], []
    async for chunk in stream:
        assert chunk.usage is None
        for call in chunk.choices[0].delta.tool_calls or []:
            ids += [call.id] if call.id else []
            names += [call.function.name] if call.function and call.function.name else []
            arguments += call.function.arguments or "" if call.function else ""
    assert (ids, names, json.loads(arguments)) == (["call_1"], ["lookup"], {"q": "paris"})


async def test_max_tokens_cuts_with_length(provider: ScriptedProvider) -> None:
    provider.script(Text("one two three four"))
    answer = await client(provider).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], max_completion_tokens=2
    )
    assert answer.choices[0].message.content == "one two"
    assert answer.choices[0].finish_reason == "length"


async def test_429_with_retry_after_is_retried(provider: ScriptedProvider) -> None:
    provider.script(Error(429, "slow down", code="rate_limit_exceeded", retry_after=0.3))
    started = time.monotonic()
    answer = await client(provider, max_retries=2).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "again"}]
    )
    assert answer.choices[0].message.content == "You said: again"
    assert len(provider.requests) == 2
    assert provider.requests[1].received_at - provider.requests[0].received_at >= 0.3
    assert time.monotonic() - started >= 0.3


async def test_errors_forever_and_required_key(provider: ScriptedProvider) -> None:
    provider.forever(Error(500))
    with pytest.raises(openai.InternalServerError):
        await client(provider, max_retries=1).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    assert len(provider.requests) == 2
    provider.reset()
    provider.required_key = "sk-right"
    with pytest.raises(openai.AuthenticationError) as caught:
        await client(provider).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.code == "invalid_api_key"


async def test_slow_stream_and_hang_see_the_client_leave(provider: ScriptedProvider) -> None:
    provider.script(Text("w " * 50, chunk_delay=0.05), Hang())
    api = client(provider, max_retries=0)
    stream = await api.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    async for _ in stream:
        break
    await stream.close()
    with pytest.raises(openai.APITimeoutError):
        await api.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], timeout=0.2
        )
    for _ in range(150):  # the server notices the client left within its poll interval
        if all(r.disconnected for r in provider.requests):
            break
        await asyncio.sleep(0.02)
    assert [r.disconnected for r in provider.requests] == [True, True]


async def test_run_code_calls_the_code_function_with_the_users_code(
    provider: ScriptedProvider,
) -> None:
    provider.script(RunCode(), RunCode("run_python"), EchoToolResult("Out:"))
    api = client(provider)
    fenced = "Please run:\n```python\nprint(6 * 7)\n```\nthanks"
    answers = []
    for text in (fenced, "x = 1"):
        answer = await api.chat.completions.create(
            model="m", messages=[{"role": "user", "content": text}]
        )
        answers.append(answer.choices[0].message.tool_calls[0].function)
    assert (answers[0].name, json.loads(answers[0].arguments)) == (
        "python",
        {"code": "print(6 * 7)\n"},
    )
    assert (answers[1].name, json.loads(answers[1].arguments)) == ("run_python", {"code": "x = 1"})
    final = await api.chat.completions.create(
        model="m",
        messages=[
            {"role": "user", "content": "x"},
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ],
    )
    assert final.choices[0].message.content == "Out: 42"
