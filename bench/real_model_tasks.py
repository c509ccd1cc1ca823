"""The task suite of bench_real_model.py (issue 23): what a small local model manages through
the engine's tools, each flow attempted N times on a fresh thread, at the server's default
sampling (not temperature 0: attempts differ), reporting the success rate and median time.

Flows and what counts as success:
- plain question: the answer names the capital asked for;
- function call, unforced / forced (tool_choice names it): the run stops at requires_action
  calling get_weather with a city (what the run did after the output is noted);
- file_search over 20 documents, one question per attempt: the answer cites (a file_citation
  annotation) the document that holds the fact;
- code_interpreter, mean of a CSV column: the mean (to 2 decimals) is in the answer;
- code_interpreter, a chart: the run produced an image (a step's image output).

No attempt can hang: each run has a completion budget (MAX_COMPLETION_TOKENS) and expires
(RUN_EXPIRES_AFTER in bench_real_model.py); an attempt that hits either counts as failed, its
status noted."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
PRICES = "day,price\n" + "".join(f"{d},{p}\n" for d, p in enumerate([12, 15, 11, 19, 23, 17], 1))
MEAN = "16.17"  # (12 + 15 + 11 + 19 + 23 + 17) / 6 = 16.1666...
TOPICS = [
    ("aurora", "The Aurora project ships on 14 March."),
    ("basil", "Basil plants need watering every 3 days."),
    ("canteen", "The canteen serves lunch from 11:45."),
    ("drone", "The delivery drone flies at most 18 km."),
    ("elevator", "Elevator B is closed for repairs until Friday."),
    ("firewall", "The firewall blocks port 6667."),
    ("garden", "The roof garden has 42 tomato plants."),
    ("helpdesk", "The helpdesk phone number is 5521."),
    ("invoice", "Invoices are paid within 30 days."),
    ("jazz", "The jazz band rehearses on Thursdays."),
    ("kayak", "Kayaks are rented for 25 euros an hour."),
    ("library", "The library keeps 9,000 books."),
    ("mailroom", "The mailroom closes at 4 pm."),
    ("nursery", "The nursery takes children from 8 months."),
    ("orchard", "The orchard grows 12 kinds of apple."),
    ("parking", "Parking level -2 is for bicycles."),
    ("quarry", "The old quarry is 60 metres deep."),
    ("robot", "The welding robot is called Gustav."),
    ("sauna", "The sauna is heated to 85 degrees."),
    ("tram", "Tram 7 runs every 12 minutes."),
]
QUESTIONS = [
    ("When does the Aurora project ship?", "aurora"),
    ("What is the helpdesk phone number?", "helpdesk"),
    ("How deep is the old quarry?", "quarry"),
    ("What is the welding robot called?", "robot"),
    ("How often does tram 7 run?", "tram"),
]


@dataclass
class Flow:
    name: str
    outcomes: list[bool] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self) -> str:
        done = sum(self.outcomes)
        median = statistics.median(self.seconds) if self.seconds else 0.0
        seen = "; ".join(dict.fromkeys(self.notes))[:160]
        return f"| {self.name} | {done}/{len(self.outcomes)} | {median:.1f} | {seen} |"


async def _text(client: openai.AsyncOpenAI, thread_id: str) -> tuple[str, list[Any]]:
    message = (await client.beta.threads.messages.list(thread_id, limit=1)).data[0]
    if message.role != "assistant" or not message.content:
        return "", []
    parts = [p for p in message.content if p.type == "text"]
    if not parts:
        return "", []
    return parts[0].text.value, list(parts[0].text.annotations)


# Every attempt is bounded by the run's own limits: this completion budget (a small model that
# repeats itself until the 8,192-token window is full takes minutes on a loaded core) and the
# run's expiry (bench_real_model.py sets RUN_EXPIRES_AFTER).
MAX_COMPLETION_TOKENS = 1024
# The threads the current attempt ran on, for its transcript (run_suite's `transcripts`).
_THREADS: list[str] = []


async def _run(client: openai.AsyncOpenAI, thread_id: str, assistant_id: str, **extra: Any) -> Any:
    _THREADS.append(thread_id)
    return await client.beta.threads.runs.create_and_poll(
        thread_id=thread_id,
        assistant_id=assistant_id,
        poll_interval_ms=200,
        max_completion_tokens=MAX_COMPLETION_TOKENS,
        **extra,
    )


async def _plain(client: openai.AsyncOpenAI, state: dict[str, Any], i: int) -> tuple[bool, str]:
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "What is the capital of France? One word."}]
    )
    run = await _run(client, thread.id, state["plain"])
    text, _ = await _text(client, thread.id)
    return run.status == "completed" and "paris" in text.lower(), f"{run.status}: {text[:40]!r}"


def _function(forced: bool) -> Callable[..., Awaitable[tuple[bool, str]]]:
    async def attempt(
        client: openai.AsyncOpenAI, state: dict[str, Any], i: int
    ) -> tuple[bool, str]:
        thread = await client.beta.threads.create(
            messages=[{"role": "user", "content": "What is the weather in Paris?"}]
        )
        choice: Any = {"type": "function", "function": {"name": "get_weather"}}
        run = await _run(
            client, thread.id, state["weather"], **({"tool_choice": choice} if forced else {})
        )
        if run.status != "requires_action":
            text, _ = await _text(client, thread.id)
            return False, f"{run.status}: {text[:40]!r}"
        calls = run.required_action.submit_tool_outputs.tool_calls
        try:
            cities = [json.loads(c.function.arguments).get("city") for c in calls]
        except ValueError:
            return False, "arguments not JSON"
        run = await client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": c.id, "output": "sunny, 24 C"} for c in calls],
            poll_interval_ms=200,
        )
        ok = all(isinstance(c, str) and c for c in cities)
        return ok, f"called, after the output: {run.status}"

    return attempt


async def _file_search(
    client: openai.AsyncOpenAI, state: dict[str, Any], i: int
) -> tuple[bool, str]:
    question, topic = QUESTIONS[i % len(QUESTIONS)]
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": question}])
    run = await _run(client, thread.id, state["search"], tool_choice={"type": "file_search"})
    text, annotations = await _text(client, thread.id)
    cited = {a.file_citation.file_id for a in annotations if a.type == "file_citation"}
    ok = run.status == "completed" and state["files"][topic] in cited
    return ok, f"{run.status}, {len(cited)} cited" + ("" if ok else f": {text[:40]!r}")


async def _mean(client: openai.AsyncOpenAI, state: dict[str, Any], i: int) -> tuple[bool, str]:
    thread = await client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "Use python to compute the mean of the price column of prices.csv.",
            }
        ]
    )
    run = await _run(client, thread.id, state["code"])
    text, _ = await _text(client, thread.id)
    ok = run.status == "completed" and (MEAN in text or MEAN[:-1] in text)
    return ok, f"{run.status}: {text[:40]!r}"


async def _chart(client: openai.AsyncOpenAI, state: dict[str, Any], i: int) -> tuple[bool, str]:
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "Use python to plot the price column of prices.csv."}]
    )
    run = await _run(client, thread.id, state["code"])
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    images = [
        o
        for s in steps.data
        if s.step_details.type == "tool_calls"
        for c in s.step_details.tool_calls
        if c.type == "code_interpreter"
        for o in c.code_interpreter.outputs or []
        if o.type == "image"
    ]
    return bool(images), f"{run.status}, {len(images)} images"


async def _setup(client: openai.AsyncOpenAI, model: str) -> dict[str, Any]:
    state: dict[str, Any] = {"files": {}}
    state["plain"] = (await client.beta.assistants.create(model=model)).id
    state["weather"] = (await client.beta.assistants.create(model=model, tools=[WEATHER])).id  # type: ignore[list-item]
    for topic, fact in TOPICS:
        body = f"{topic.capitalize()} notes.\n{fact}\n".encode()
        made = await client.files.create(file=(f"{topic}.txt", body), purpose="assistants")
        state["files"][topic] = made.id
    store = await client.vector_stores.create(name="notes", file_ids=list(state["files"].values()))
    while store.file_counts.in_progress:
        await asyncio.sleep(0.2)
        store = await client.vector_stores.retrieve(store.id)
    state["search"] = (
        await client.beta.assistants.create(
            model=model,
            instructions="Answer from the files; cite the source marker.",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
    ).id
    prices = await client.files.create(file=("prices.csv", PRICES.encode()), purpose="assistants")
    state["code"] = (
        await client.beta.assistants.create(
            model=model,
            tools=[{"type": "code_interpreter"}],
            tool_resources={"code_interpreter": {"file_ids": [prices.id]}},
        )
    ).id
    return state


FLOWS: list[tuple[str, Callable[..., Awaitable[tuple[bool, str]]]]] = [
    ("plain question", _plain),
    ("function call, unforced", _function(False)),
    ("function call, forced", _function(True)),
    ("file_search, right file cited", _file_search),
    ("code_interpreter, CSV mean", _mean),
    ("code_interpreter, chart", _chart),
]


async def _save_transcript(client: openai.AsyncOpenAI, path: Path, note: str) -> None:
    """The attempt's threads as JSON: every run (status, last_error, usage), its steps (calls and
    their outputs) and the messages, oldest first: what the model wrote and what it got back."""
    threads = []
    for thread_id in dict.fromkeys(_THREADS):
        runs = (await client.beta.threads.runs.list(thread_id, order="asc")).data
        threads.append(
            {
                "thread_id": thread_id,
                "runs": [
                    {
                        **run.model_dump(include={"id", "status", "last_error", "usage"}),
                        "steps": [
                            step.model_dump(
                                include={"type", "status", "step_details", "last_error"}
                            )
                            for step in (
                                await client.beta.threads.runs.steps.list(
                                    run.id, thread_id=thread_id, order="asc"
                                )
                            ).data
                        ],
                    }
                    for run in runs
                ],
                "messages": [
                    message.model_dump(include={"role", "content", "run_id"})
                    for message in (
                        await client.beta.threads.messages.list(thread_id, order="asc")
                    ).data
                ],
            }
        )
    text = json.dumps({"note": note, "threads": threads}, indent=1, default=str)
    await asyncio.to_thread(path.write_text, text)


async def run_suite(
    client: openai.AsyncOpenAI,
    model: str,
    attempts: int,
    only: str = "",
    transcripts: Path | None = None,
) -> list[Flow]:
    state = await _setup(client, model)
    flows = []
    for name, attempt in FLOWS:
        if only not in name:
            continue
        flow = Flow(name)
        for i in range(attempts):
            start = time.perf_counter()
            _THREADS.clear()
            try:
                ok, note = await attempt(client, state, i)
            except openai.APIError as error:
                ok, note = False, f"error: {error}"[:80]
            flow.seconds.append(time.perf_counter() - start)
            flow.outcomes.append(ok)
            flow.notes.append(note)
            print(f"{name} #{i + 1}: {'ok' if ok else 'no'} ({note})", flush=True)
            if transcripts is not None:
                slug = "".join(c if c.isalnum() else "-" for c in name)
                path = transcripts / f"{slug}-{i + 1}-{'ok' if ok else 'no'}.json"
                await _save_transcript(client, path, note)
        flows.append(flow)
    return flows
