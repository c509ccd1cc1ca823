"""file_search in runs (issue 13): the engine searches the run's vector stores itself, records
the step with its results, gives the model the excerpts under source markers, and turns the
markers the model cites into file_citation annotations - on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import openai
import pytest

from openai_assistant_mcp.engine.runs import file_search
from openai_assistant_mcp.engine.runs.file_search import FUNCTION_NAME
from tests.runner.conftest import sdk_client
from tests.support.engine import SpecViolations
from tests.support.scripted_provider import (
    Call,
    CiteSources,
    ScriptedProvider,
    SearchFiles,
    Text,
    ToolCalls,
    tool_markers,
)

CATS = b"Cats are small domesticated carnivores. A kitten purrs and chases mice at night.\n"
MARKETS = b"The central bank raised interest rates; bond yields and stock indexes fell.\n"
CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}


async def _store(client: openai.AsyncOpenAI, files: dict[str, bytes]) -> tuple[str, dict[str, str]]:
    """A vector store holding `files` (name -> bytes), ingested; and the file IDs by name."""
    ids = {
        name: (await client.files.create(file=(name, data), purpose="assistants")).id
        for name, data in files.items()
    }
    store = await client.vector_stores.create(name="kb", file_ids=list(ids.values()))
    for _ in range(6000):  # up to two minutes
        if store.status != "in_progress":
            break
        await asyncio.sleep(0.02)
        store = await client.vector_stores.retrieve(store.id)
    assert store.status == "completed"
    return store.id, ids


async def _assistant(client: openai.AsyncOpenAI, store_id: str, *tools: Any) -> str:
    assistant = await client.beta.assistants.create(
        model="m",
        tools=[{"type": "file_search"}, *tools],
        tool_resources={"file_search": {"vector_store_ids": [store_id]}},
    )
    return assistant.id


async def _thread(client: openai.AsyncOpenAI, text: str) -> str:
    return (await client.beta.threads.create(messages=[{"role": "user", "content": text}])).id


def _search_call(step: Any) -> Any:
    (call,) = step.step_details.tool_calls
    assert call.type == "file_search"
    return call.file_search


async def test_a_run_searches_records_and_cites(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    store_id, ids = await _store(oai, {"cats.txt": CATS, "markets.md": MARKETS})
    assistant_id = await _assistant(oai, store_id)
    thread_id = await _thread(oai, "What does a kitten do at night?")
    provider.script(SearchFiles("kitten night", id="call_fs"), CiteSources())
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "completed"

    first, second = provider.requests
    assert [t["function"]["name"] for t in first.body["tools"]] == [FUNCTION_NAME]
    tool_message = second.messages[-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_fs"
    assert "kitten purrs" in tool_message["content"]
    markers = tool_markers(second.body)
    assert markers[0] == "【0:0†cats.txt】"

    steps = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread_id, order="asc")).data
    assert [(s.type, s.status) for s in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    search = _search_call(steps[0])
    assert search.ranking_options.ranker == "default_2024_08_21"
    assert search.ranking_options.score_threshold == 0.0
    assert search.results[0].file_id == ids["cats.txt"]
    assert search.results[0].file_name == "cats.txt"
    assert 0 <= search.results[0].score <= 1
    assert all(r.content is None for r in search.results)  # not asked for
    with_content = await oai.beta.threads.runs.steps.retrieve(
        steps[0].id, thread_id=thread_id, run_id=run.id, include=[CONTENT]
    )
    assert "kitten purrs" in _search_call(with_content).results[0].content[0].text

    answer = (await oai.beta.threads.messages.list(thread_id)).data[0]
    text = answer.content[0].text  # type: ignore[union-attr]
    assert text.value == f"The answer is in {markers[0]}."
    (citation,) = text.annotations
    assert citation.type == "file_citation"
    assert citation.file_citation.file_id == ids["cats.txt"]  # type: ignore[union-attr]
    assert text.value[citation.start_index : citation.end_index] == citation.text == markers[0]


async def test_run_overrides_max_num_results_and_score_threshold(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    store_id, _ = await _store(oai, {"cats.txt": CATS, "markets.md": MARKETS})
    assistant_id = await _assistant(oai, store_id)
    thread_id = await _thread(oai, "kittens and interest rates?")
    provider.script(SearchFiles("kitten", "interest rates"), CiteSources("{count}: {all}"))
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id,
        assistant_id=assistant_id,
        tools=[{"type": "file_search", "file_search": {"max_num_results": 1}}],
    )
    assert run.status == "completed"
    step = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread_id)).data[-1]
    assert len(_search_call(step).results) == 1
    assert len(tool_markers(provider.requests[1].body)) == 1

    # The threshold is recorded and honoured (scores are normalized: the best is 1.0).
    provider.reset()
    provider.script(SearchFiles("kitten", "interest rates"), CiteSources())
    options = {"ranking_options": {"ranker": "auto", "score_threshold": 1.0}}
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id,
        assistant_id=assistant_id,
        tools=[{"type": "file_search", "file_search": options}],
    )
    assert run.status == "completed"
    steps = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread_id, order="asc")).data
    search = _search_call(steps[0])
    assert search.ranking_options.score_threshold == 1.0
    assert search.ranking_options.ranker == "default_2024_08_21"
    assert all(r.score >= 1.0 for r in search.results)


async def test_a_search_that_finds_nothing_still_completes(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    empty = await oai.vector_stores.create(name="empty")
    assistant_id = await _assistant(oai, empty.id)
    thread_id = await _thread(oai, "kittens?")
    provider.script(SearchFiles("kitten"), CiteSources())
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "completed"
    step = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread_id, order="asc")).data[
        0
    ]
    assert _search_call(step).results == []
    assert provider.requests[1].messages[-1]["content"].startswith("No results found")
    answer = (await oai.beta.threads.messages.list(thread_id)).data[0]
    assert answer.content[0].text.value == "I found nothing in the files."  # type: ignore[union-attr]
    assert answer.content[0].text.annotations == []  # type: ignore[union-attr]


async def test_streamed_with_content_included(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    store_id, ids = await _store(oai, {"cats.txt": CATS})
    assistant_id = await _assistant(oai, store_id)
    thread_id = await _thread(oai, "kittens?")
    provider.script(SearchFiles("kitten"), CiteSources("See {first} and 【7:7†made-up.txt】."))
    seen: list[tuple[str, Any]] = []
    async with oai.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, include=[CONTENT]
    ) as stream:
        async for event in stream:
            seen.append((event.event, event.data))
    names = [name for name, _ in seen]
    assert names[-1] == "thread.run.completed"
    step = next(d for n, d in seen if n == "thread.run.step.created")
    deltas = [d for n, d in seen if n == "thread.run.step.delta" and d.id == step.id]
    assert deltas and all(d.delta.step_details.tool_calls[0].type == "file_search" for d in deltas)
    done = next(d for n, d in seen if n == "thread.run.step.completed" and d.id == step.id)
    assert "kitten" in _search_call(done).results[0].content[0].text
    message = next(d for n, d in seen if n == "thread.message.completed")
    text = message.content[0].text
    (citation,) = text.annotations  # the invented marker stays text
    assert citation.file_citation.file_id == ids["cats.txt"]
    assert "【7:7†made-up.txt】" in text.value


async def test_search_and_a_function_in_one_model_turn(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    store_id, ids = await _store(oai, {"cats.txt": CATS})
    assistant_id = await _assistant(oai, store_id, WEATHER)
    thread_id = await _thread(oai, "kittens, and the weather?")
    search = Call(FUNCTION_NAME, {"queries": ["kitten"]}, id="call_fs")
    provider.script(ToolCalls(search, Call("get_weather", {}, id="call_w")), CiteSources())
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "requires_action" and run.required_action is not None
    wanted = run.required_action.submit_tool_outputs.tool_calls
    assert [c.id for c in wanted] == ["call_w"]
    run = await oai.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": "call_w", "output": "rain"}],
    )
    assert run.status == "completed"
    said = provider.requests[1].messages
    assert [m["role"] for m in said[-3:]] == ["assistant", "tool", "tool"]
    assert said[-1] == {"role": "tool", "tool_call_id": "call_w", "content": "rain"}
    answer = (await oai.beta.threads.messages.list(thread_id)).data[0]
    (citation,) = answer.content[0].text.annotations  # type: ignore[union-attr]
    assert citation.file_citation.file_id == ids["cats.txt"]  # type: ignore[union-attr]


async def test_another_tenant_s_store_is_never_searched(
    oai: openai.AsyncOpenAI,
    provider: ScriptedProvider,
    runs_engine_url: str,
    spec_violations: SpecViolations,
) -> None:
    store_id, _ = await _store(oai, {"cats.txt": CATS})
    other = sdk_client(runs_engine_url, "sk-other-" + secrets.token_hex(8), spec_violations)
    try:
        assistant = await other.beta.assistants.create(model="m", tools=[{"type": "file_search"}])
        with pytest.raises(openai.BadRequestError) as refused:
            await other.beta.threads.create_and_run(
                assistant_id=assistant.id,
                thread={"messages": [{"role": "user", "content": "kittens?"}]},
                tool_resources={"file_search": {"vector_store_ids": [store_id]}},
            )
        assert refused.value.param == "tool_resources.file_search.vector_store_ids[0]"
        assert f"No vector store found with id '{store_id}'" in refused.value.message
        # Its own run, with no store of its own, finds nothing of the first tenant's files.
        provider.script(SearchFiles("kitten"), CiteSources())
        run = await other.beta.threads.create_and_run_poll(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "kittens?"}]},
        )
        assert run.status == "completed"
        assert "kitten" not in json.dumps(provider.requests[-1].messages[-1])
        step = (await other.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)).data
        assert _search_call(step[-1]).results == []
    finally:
        await other.close()


async def test_bad_search_arguments_are_told_to_the_model(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    store_id, _ = await _store(oai, {"cats.txt": CATS})
    assistant_id = await _assistant(oai, store_id)
    thread_id = await _thread(oai, "kittens?")
    provider.script(ToolCalls(Call(FUNCTION_NAME, "not json")), Text("Sorry."))
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "completed"
    assert provider.requests[1].messages[-1]["content"].startswith("file_search error:")


async def test_a_file_attached_for_search_goes_to_the_thread_s_store(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    cats = (await oai.files.create(file=("cats.txt", CATS), purpose="assistants")).id
    markets = (await oai.files.create(file=("markets.md", MARKETS), purpose="assistants")).id
    assistant = await oai.beta.assistants.create(model="m", tools=[{"type": "file_search"}])
    thread = await oai.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "What do kittens do?",
                "attachments": [{"file_id": cats, "tools": [{"type": "file_search"}]}],
            },
            {  # attached for code_interpreter only: not searched
                "role": "user",
                "content": "and this",
                "attachments": [{"file_id": markets, "tools": [{"type": "code_interpreter"}]}],
            },
        ]
    )
    # The file joins the thread's own store as the thread is created (as OpenAI did).
    assert thread.tool_resources is not None and thread.tool_resources.file_search is not None
    (store_id,) = thread.tool_resources.file_search.vector_store_ids or []
    retrieved = await oai.beta.threads.retrieve(thread.id)
    assert retrieved.tool_resources.file_search.vector_store_ids == [store_id]  # type: ignore[union-attr]
    store = await oai.vector_stores.retrieve(store_id)
    assert store.expires_after is not None and store.expires_after.days == 7
    assert store.expires_after.anchor == "last_active_at"
    assert store.file_counts.total == 1  # cats only: markets was attached for code_interpreter
    assert (await oai.vector_stores.files.retrieve(cats, vector_store_id=store_id)).id == cats

    provider.script(SearchFiles("kitten", "interest rates"), CiteSources())
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    )
    assert run.status == "completed"
    step = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")).data[
        0
    ]
    assert {r.file_id for r in _search_call(step).results} == {cats}
    store = await oai.vector_stores.retrieve(store_id)
    assert store.file_counts.completed == 1 and store.file_counts.total == 1
    answer = (await oai.beta.threads.messages.list(thread.id)).data[0]
    (citation,) = answer.content[0].text.annotations  # type: ignore[union-attr]
    assert citation.file_citation.file_id == cats  # type: ignore[union-attr]


async def test_a_store_still_ingesting_is_waited_for(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    cats = (await oai.files.create(file=("cats.txt", CATS), purpose="assistants")).id
    store = await oai.vector_stores.create(name="fresh", file_ids=[cats])  # not waited for
    assistant_id = await _assistant(oai, store.id)
    thread_id = await _thread(oai, "kittens?")
    provider.script(SearchFiles("kitten"), CiteSources())
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "completed"
    step = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread_id, order="asc")).data[
        0
    ]
    assert [r.file_id for r in _search_call(step).results] == [cats]


async def test_search_results_count_toward_max_prompt_tokens(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    store_id, _ = await _store(oai, {"cats.txt": CATS * 20})
    assistant_id = await _assistant(oai, store_id)
    old = "old " * 400
    thread = await oai.beta.threads.create(
        messages=[{"role": "user", "content": old}, {"role": "user", "content": "kittens?"}]
    )
    provider.script(SearchFiles("kitten"), CiteSources())
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_id, max_prompt_tokens=600
    )
    assert run.status == "completed"
    first, second = provider.requests
    assert [m["content"] for m in first.messages] == [old, "kittens?"]
    # The results take ~400 of the 600 tokens: the oldest message makes room, the newest stays.
    assert [m["role"] for m in second.messages] == ["user", "assistant", "tool"]
    assert second.messages[0]["content"] == "kittens?"


async def test_messages_and_additional_messages_attach_to_the_thread_s_store(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    cats = (await oai.files.create(file=("cats.txt", CATS), purpose="assistants")).id
    markets = (await oai.files.create(file=("markets.md", MARKETS), purpose="assistants")).id
    assistant = await oai.beta.assistants.create(model="m", tools=[{"type": "file_search"}])
    thread = await oai.beta.threads.create()
    assert not (thread.tool_resources and thread.tool_resources.file_search)
    await oai.beta.threads.messages.create(
        thread.id,
        role="user",
        content="kittens?",
        attachments=[{"file_id": cats, "tools": [{"type": "file_search"}]}],
    )
    found = await oai.beta.threads.retrieve(thread.id)
    assert found.tool_resources is not None and found.tool_resources.file_search is not None
    (store_id,) = found.tool_resources.file_search.vector_store_ids or []
    assert [f.id for f in (await oai.vector_stores.files.list(store_id)).data] == [cats]

    # A run's additional message adds its file to the same store; the run waits for both.
    provider.script(SearchFiles("kitten", "interest rates"), CiteSources())
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        additional_messages=[
            {
                "role": "user",
                "content": "and rates?",
                "attachments": [{"file_id": markets, "tools": [{"type": "file_search"}]}],
            }
        ],
    )
    assert run.status == "completed"
    again = await oai.beta.threads.retrieve(thread.id)
    assert again.tool_resources.file_search.vector_store_ids == [store_id]  # type: ignore[union-attr]
    step = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")).data[
        0
    ]
    assert {r.file_id for r in _search_call(step).results} == {cats, markets}
    store = await oai.vector_stores.retrieve(store_id)
    assert store.file_counts.completed == 2 and store.file_counts.total == 2


async def test_a_file_that_failed_ingestion_is_named_to_the_model(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    cats = (await oai.files.create(file=("cats.txt", CATS), purpose="assistants")).id
    sheet = (await oai.files.create(file=("sheet.xlsx", b"PK\x03\x04"), purpose="assistants")).id
    broken = (await oai.files.create(file=("report.pdf", b"%PDF-1.4 cut"), purpose="assistants")).id
    assistant = await oai.beta.assistants.create(model="m", tools=[{"type": "file_search"}])
    search_for = [{"type": "file_search"}]
    provider.script(SearchFiles("kitten"), CiteSources())
    run = await oai.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={
            "messages": [
                {
                    "role": "user",
                    "content": "kittens?",
                    "attachments": [
                        {"file_id": cats, "tools": search_for},
                        {"file_id": sheet, "tools": search_for},
                        {"file_id": broken, "tools": search_for},
                    ],
                }
            ]
        },
    )
    assert run.status == "completed"  # not a crash
    told = provider.requests[1].messages[-1]["content"]
    assert "kitten purrs" in told
    notice = told.split("These files could not be searched:\n", 1)[1]
    assert sorted(notice.splitlines()) == [
        "- report.pdf: The PDF could not be read (Stream has ended unexpectedly).",
        "- sheet.xlsx: File type .xlsx is not supported.",
    ]
    steps = await oai.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id, order="asc")
    search = _search_call(steps.data[0])  # the step stays as OpenAI's: results only
    assert [r.file_id for r in search.results] == [cats]
    answer = (await oai.beta.threads.messages.list(run.thread_id)).data[0]
    (citation,) = answer.content[0].text.annotations  # type: ignore[union-attr]
    assert citation.file_citation.file_id == cats  # type: ignore[union-attr]


async def test_a_file_still_ingesting_when_the_wait_ends_is_named(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bounded wait (30 s) cut to nothing: the search runs while the file is ingesting
    # (8 chunks through the local model, which takes a query between batches of 4).
    monkeypatch.setattr(file_search, "INGESTION_WAIT", 0.0)
    long_text = " ".join(f"paragraph{i} of the long report" for i in range(500)).encode()
    big = (await oai.files.create(file=("long.txt", long_text), purpose="assistants")).id
    assistant = await oai.beta.assistants.create(model="m", tools=[{"type": "file_search"}])
    thread = await oai.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "what does the report say?",
                "attachments": [{"file_id": big, "tools": [{"type": "file_search"}]}],
            }
        ]
    )
    provider.script(SearchFiles("report"), CiteSources())
    import time

    t0 = time.monotonic()
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    )
    print("RUN TOOK", time.monotonic() - t0, file_search.INGESTION_WAIT)
    assert run.status == "completed"
    told = provider.requests[1].messages[-1]["content"]
    assert told.endswith("These files could not be searched:\n- long.txt: still being processed")
    store_id = thread.tool_resources.file_search.vector_store_ids[0]  # type: ignore[union-attr,index]
    done = await oai.vector_stores.files.poll(
        big, vector_store_id=store_id, poll_interval_ms=100, max_wait_seconds=300
    )
    assert done.status == "completed"  # it was only slow
