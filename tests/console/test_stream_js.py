"""stream.js, the console's reader of run event streams, in the real browser: bodies built in
the page from byte chunks cut anywhere (mid-line, mid-UTF-8 character, between \\r and \\n),
and a real streamed run of the server read through the console's api.js."""

from __future__ import annotations

import json
from typing import Any

from tests.mcp.servers import ServerProcess
from tests.support.browser import Console
from tests.support.scripted_provider import ScriptedProvider, Text

from .helpers import rest

# Reads a body made of `chunks` (lists of byte values) with stream.js; resolves to the events.
READ_CHUNKS = """
const [chunks, done] = [arguments[0], arguments[arguments.length - 1]];
import('/ui/stream.js').then(async ({runEvents}) => {
  const body = new ReadableStream({start(controller) {
    for (const chunk of chunks) controller.enqueue(new Uint8Array(chunk));
    controller.close();
  }});
  const events = [];
  for await (const event of runEvents(new Response(body))) events.push(event);
  done({events});
}).catch((error) => done({error: String(error)}));
"""


def _read(console: Console, chunks: list[bytes]) -> list[dict[str, Any]]:
    result = console.driver.execute_async_script(READ_CHUNKS, [list(chunk) for chunk in chunks])
    assert "error" not in result, result
    return list(result["events"])


def _cut_everywhere(data: bytes) -> list[list[bytes]]:
    """`data` cut in two at every byte, and cut into single bytes."""
    cuts = [[data[:at], data[at:]] for at in range(1, len(data))]
    return [*cuts, [data[i : i + 1] for i in range(len(data))]]


def test_events_survive_any_split_of_the_bytes(console: Console, key: str) -> None:
    console.open("assistants")
    delta = {"id": "msg_1", "delta": {"content": [{"index": 0, "text": {"value": "héllo ☃"}}]}}
    body = (
        b": a comment line\r\n"
        b"event: thread.message.delta\r\n"
        b"data: " + json.dumps(delta, ensure_ascii=False).encode() + b"\r\n\r\n"
        b"event: multi\n"
        b"data: first line\n"
        b"data:second line\n\n"
        b"event: thread.run.completed\r"
        b'data: {"id":"run_1","status":"completed"}\r\r'
        b"event: done\ndata: [DONE]\n\n"
        b'event: after.done\ndata: {"never": true}\n\n'
    )
    expected = [
        {"event": "thread.message.delta", "data": delta},
        {"event": "multi", "data": "first line\nsecond line"},
        {"event": "thread.run.completed", "data": {"id": "run_1", "status": "completed"}},
    ]
    assert _read(console, [body]) == expected
    for chunks in _cut_everywhere(body):
        assert _read(console, chunks) == expected, chunks


def test_an_event_cut_off_by_the_end_of_the_body_is_dropped(console: Console) -> None:
    console.open("assistants")
    body = b'event: a\ndata: {"n": 1}\n\nevent: b\ndata: {"n": 2}'
    assert _read(console, [body]) == [{"event": "a", "data": {"n": 1}}]


# Streams a run through the console's own api.js and stream.js; resolves to the event names
# and the text of the message deltas.
STREAM_A_RUN = """
const [threadId, assistantId, done] = arguments;
Promise.all([import('/ui/api.js'), import('/ui/stream.js')]).then(async ([{api}, {runEvents}]) => {
  const response = await api.raw('POST', `/threads/${threadId}/runs`,
    {assistant_id: assistantId, stream: true}, {accept: 'text/event-stream'});
  const names = [];
  let text = '';
  for await (const {event, data} of runEvents(response)) {
    names.push(event);
    if (event === 'thread.message.delta') text += data.delta.content[0].text.value;
  }
  done({names, text});
}).catch((error) => done({error: String(error)}));
"""


def test_a_real_run_stream_is_read_to_its_end(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    client = rest(console_server, key)
    assistant = client.beta.assistants.create(model="gpt-test")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    model_provider.script(Text("Three little words"))
    console.open("assistants", key=key)

    result = console.driver.execute_async_script(STREAM_A_RUN, thread.id, assistant.id)

    assert "error" not in result, result
    assert result["text"] == "Three little words"
    names = result["names"]
    assert names[0] == "thread.run.created" and names[-1] == "thread.run.completed"
    assert "done" not in names
