"""Citations the engine writes (issue 23, `FILE_SEARCH_ENGINE_CITATIONS`): a sentence of the
answer that repeats what a file_search result says, with no source marker from the model, gets
that result's marker and a `file_citation` annotation; an answer that does not use the results
gets none, markers the model wrote stay as written, and the streamed deltas add up to the
final message. Against the scripted provider on loopback (not api.openai.com: on by default)."""

from __future__ import annotations

import asyncio
from typing import Any

import openai

from openai_assistant_mcp.engine.providers.chat import ChatProvider
from openai_assistant_mcp.engine.runs.engine_citations import Citer, terms
from tests.runner.conftest import Engine
from tests.support.scripted_provider import ScriptedProvider, SearchFiles, Text, tool_markers

FILES = {
    "aurora.txt": b"Aurora notes.\nThe Aurora project ships on 14 March.\n",
    "robot.txt": b"Robot notes.\nThe welding robot is called Gustav.\n",
    "tram.txt": b"Tram notes.\nTram 7 runs every 12 minutes.\n",
}
QUESTION = "What is the welding robot called?"


async def _setup(client: openai.AsyncOpenAI) -> tuple[str, str, dict[str, str]]:
    """An assistant searching a store of FILES, a thread asking QUESTION, the file IDs."""
    ids = {
        name: (await client.files.create(file=(name, data), purpose="assistants")).id
        for name, data in FILES.items()
    }
    store = await client.vector_stores.create(name="notes", file_ids=list(ids.values()))
    for _ in range(1200):
        if store.status != "in_progress":
            break
        await asyncio.sleep(0.1)
        store = await client.vector_stores.retrieve(store.id)
    assert store.status == "completed"
    assistant = await client.beta.assistants.create(
        model="m",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    return assistant.id, thread.id, ids


def _marker(provider: ScriptedProvider, filename: str) -> str:
    """The marker the model was shown for `filename`'s result (in the answer's request)."""
    (found,) = [m for m in tool_markers(provider.requests[-1].body) if m.endswith(f"†{filename}】")]
    return found


async def _answer(client: openai.AsyncOpenAI, thread_id: str) -> Any:
    message = (await client.beta.threads.messages.list(thread_id, limit=1)).data[0]
    return message.content[0].text


async def test_a_sentence_from_a_result_cites_that_file_among_several(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    assistant_id, thread_id, ids = await _setup(oai)
    provider.script(
        SearchFiles("welding robot", "tram", "aurora"), Text("The welding robot is called Gustav.")
    )
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "completed"
    assert len(tool_markers(provider.requests[-1].body)) == 3  # every file was a result
    mark = _marker(provider, "robot.txt")
    text = await _answer(oai, thread_id)
    assert text.value == f"The welding robot is called Gustav{mark}."
    (citation,) = text.annotations
    assert citation.type == "file_citation"
    assert citation.file_citation.file_id == ids["robot.txt"]
    assert text.value[citation.start_index : citation.end_index] == citation.text == mark


async def test_an_answer_that_does_not_use_the_results_is_not_cited(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    assistant_id, thread_id, _ = await _setup(oai)
    # The second sentence shares words with robot.txt, but only the question's own words.
    said = "I could not find that. The welding robot is not named here."
    provider.script(SearchFiles("welding robot", "tram"), Text(said))
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "completed"
    text = await _answer(oai, thread_id)
    assert text.value == said
    assert text.annotations == []


async def test_markers_the_model_wrote_stay_and_uncited_sentences_get_one(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    assistant_id, thread_id, ids = await _setup(oai)

    def answer(body: dict[str, Any]) -> str:
        robot = next(m for m in tool_markers(body) if "robot.txt" in m)
        return f"It is called Gustav. {robot}\nAlso, tram 7 runs every 12 minutes."

    provider.script(SearchFiles("welding robot", "tram"), Text(answer))
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "completed"
    robot, tram = _marker(provider, "robot.txt"), _marker(provider, "tram.txt")
    text = await _answer(oai, thread_id)
    # The model's own marker (after the sentence it cites) as written, no second one there.
    assert text.value == f"It is called Gustav. {robot}\nAlso, tram 7 runs every 12 minutes{tram}."
    assert [(a.text, a.file_citation.file_id) for a in text.annotations] == [
        (robot, ids["robot.txt"]),
        (tram, ids["tram.txt"]),
    ]
    for citation in text.annotations:
        assert text.value[citation.start_index : citation.end_index] == citation.text


async def test_streamed_deltas_add_up_to_the_cited_message(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    assistant_id, thread_id, ids = await _setup(oai)
    said = "Tram 7 runs every 12 minutes. The welding robot is called Gustav. Have a good day!"
    provider.script(SearchFiles("welding robot", "tram"), Text(said))
    deltas: list[str] = []
    completed: Any = None
    async with oai.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id
    ) as stream:
        async for event in stream:
            if event.event == "thread.message.delta":
                for part in event.data.delta.content or []:
                    if part.type == "text" and part.text and part.text.value:
                        deltas.append(part.text.value)
            elif event.event == "thread.message.completed":
                completed = event.data
    assert completed is not None
    robot, tram = _marker(provider, "robot.txt"), _marker(provider, "tram.txt")
    final = completed.content[0].text
    assert final.value == (
        f"Tram 7 runs every 12 minutes{tram}. The welding robot is called Gustav{robot}. "
        "Have a good day!"
    )
    assert "".join(deltas) == final.value
    # A sentence at a time (each once the next began), not the whole answer at its end.
    assert deltas == [
        f"Tram 7 runs every 12 minutes{tram}. ",
        f"The welding robot is called Gustav{robot}. ",
        "Have a good day!",
    ]
    assert [a.file_citation.file_id for a in final.annotations] == [
        ids["tram.txt"],
        ids["robot.txt"],
    ]
    stored = await _answer(oai, thread_id)
    assert stored.value == final.value
    assert [a.model_dump() for a in stored.annotations] == [
        a.model_dump() for a in final.annotations
    ]


async def test_off_leaves_the_answer_as_the_model_wrote_it(
    engine: Engine, provider: ScriptedProvider
) -> None:
    client = await engine(FILE_SEARCH_ENGINE_CITATIONS="off")
    assistant_id, thread_id, _ = await _setup(client)
    provider.script(SearchFiles("welding robot"), Text("The welding robot is called Gustav."))
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "completed"
    text = await _answer(client, thread_id)
    assert text.value == "The welding robot is called Gustav."
    assert text.annotations == []
    await client.close()


def test_on_by_default_for_providers_other_than_openai() -> None:
    def cites(url: str, mode: str = "auto") -> bool:
        provider = ChatProvider(url, None, timeout=5, max_retries=0, engine_citations=mode)
        return provider.engine_citations

    assert cites("http://127.0.0.1:8080/v1")
    assert not cites("https://api.openai.com/v1")
    assert cites("https://api.openai.com/v1", "on")
    assert not cites("http://127.0.0.1:8080/v1", "off")


def _cite(text: str, question: str = QUESTION) -> str:
    sources = [
        {"marker": f"【0:{i}†{name}】", "file_id": name, "terms": terms(data.decode())}
        for i, (name, data) in enumerate(FILES.items())
    ]
    citer = Citer(sources, frozenset(terms(question)))
    return (
        "".join(citer.feed(piece) for piece in text.split(" ")[:1])
        + "".join(citer.feed(" " + piece) for piece in text.split(" ")[1:])
        + citer.flush()
    )


def test_code_and_decimals_are_not_cut_or_cited() -> None:
    code = "```\nrobot = 'Gustav'\n```\n"
    assert _cite(code) == code
    assert _cite("The price is 16.17 euros.") == "The price is 16.17 euros."
    assert _cite("Aurora ships on 14 March, they say.") == (
        "Aurora ships on 14 March, they say【0:0†aurora.txt】."
    )
    assert (
        _cite("- Gustav\n- 14 March") == "- Gustav【0:1†robot.txt】\n- 14 March【0:0†aurora.txt】"
    )


def test_words_every_result_has_or_the_question_brought_cite_nothing() -> None:
    # "notes" is in every file: it tells none apart; "robot" came from the question.
    assert _cite("Robot notes.") == "Robot notes."
    assert _cite("Here are my notes.") == "Here are my notes."
    assert _cite("Robot notes: Gustav.") == "Robot notes: Gustav【0:1†robot.txt】."
