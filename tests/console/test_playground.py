"""The playground in a real browser against a real `api` server and a scripted model: text
streamed as it arrives, function calls answered in the page (also after reopening the
thread), a file_search citation that opens its file and quote, a code_interpreter image, a
failed run's reason, a cancelled run, and model output that tries to run script rendered inert."""

from __future__ import annotations

from typing import Any

import pytest

from openai_assistant_mcp.engine.sandbox import SandboxSettings
from tests.mcp.servers import ServerProcess
from tests.support.browser import Console
from tests.support.sandbox import sandbox_settings
from tests.support.scripted_provider import (
    Call,
    CiteSources,
    EchoToolResult,
    Endless,
    Error,
    RunCode,
    ScriptedProvider,
    SearchFiles,
    Text,
    ToolCalls,
)

from .helpers import (
    WEATHER_TOOL,
    ingested_store,
    no_script_ran,
    open_playground,
    rest,
    run_status,
    send,
    wait_until,
)

__all__ = ["sandbox_settings"]  # the fixture: bwrap present (or skip) and the venv built


def _assistant(console_server: ServerProcess, key: str, **fields: Any) -> str:
    return str(rest(console_server, key).beta.assistants.create(model="gpt-test", **fields).id)


def _thread_id(console: Console) -> str:
    return str(console.find(".thread-head .thread-id").text)


def test_a_reply_streams_into_the_page_as_it_arrives(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    answer = "Streaming words arrive one by one here"
    model_provider.script(Text(answer, chunk_delay=0.4))
    _assistant(console_server, key, name="Streamer")
    open_playground(console, key)
    send(console, "Say something slowly")

    console.wait_text(".msg[data-role=user] .body", "Say something slowly")

    # Part of the answer is on the page while the rest is still being written.
    def part_shown(driver: Any) -> str | None:
        shown = driver.find_elements("css selector", ".msg[data-role=assistant] .streaming")
        text = shown[0].text if shown else ""
        return text if text and text != answer else None

    partial = console.wait(part_shown)
    assert answer.startswith(partial)
    run_status(console, "completed")
    console.wait_text(".msg[data-role=assistant] .body .md", answer)
    assert console.find(".run-head .usage").text.endswith("tokens")
    # The thread is in the list, previewing the newest message.
    thread_id = _thread_id(console)
    item = console.find(f".threads li[data-thread-id={thread_id}]")
    console.wait(lambda d: answer[:20] in item.text)
    assert thread_id in console.driver.current_url


def test_a_function_call_is_answered_in_the_page_also_after_reopening(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    model_provider.script(
        ToolCalls(Call("get_weather", {"city": "Paris"}, id="call_paris")),
        EchoToolResult("Weather:"),
    )
    assistant_id = _assistant(console_server, key, tools=[WEATHER_TOOL])
    open_playground(console, key)
    send(console, "What is the weather in Paris?")

    run_status(console, "requires_action")
    pending = console.find(".tool-outputs .pending-call[data-call-id=call_paris]")
    assert "get_weather" in pending.text
    assert '"city": "Paris"' in pending.find_element("css selector", "pre.args").text
    # The call was shown live too, with its arguments, before the run stopped for it.
    assert "Paris" in console.find(".live-tools .tool-function pre.args").text

    # Reopening the thread shows the same waiting call.
    thread_id = _thread_id(console)
    open_playground(console, key, thread_id)
    console.wait_text(".msg[data-role=user] .body", "weather in Paris")
    assert console.find("#pg-assistant").get_attribute("value") == assistant_id
    field = console.find("textarea[name=output-call_paris]")
    field.send_keys("22 C and sunny")
    console.find("button.submit-outputs").click()

    run_status(console, "completed")
    console.wait_text(".msg[data-role=assistant] .body", "Weather: 22 C and sunny")
    tool_message = model_provider.requests[-1].messages[-1]
    assert tool_message == {
        "role": "tool",
        "tool_call_id": "call_paris",
        "content": "22 C and sunny",
    }


def test_a_file_search_citation_opens_its_file_and_quote(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    client = rest(console_server, key)
    store_id, ids = ingested_store(
        client,
        ("cats.txt", b"Kittens sleep most of the night and purr when they wake."),
        ("rates.txt", b"Interest rates rose by a quarter point in March."),
    )
    _assistant(
        console_server,
        key,
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store_id]}},
    )
    model_provider.script(SearchFiles("kitten night", id="call_fs"), CiteSources())
    open_playground(console, key)
    send(console, "search: when do kittens sleep?")

    run_status(console, "completed")
    # The search was shown live with the file it found and its score.
    chunk = console.find(f".live-tools .tool-file_search .chunk[data-file-id='{ids['cats.txt']}']")
    assert "cats.txt" in chunk.text and "score" in chunk.text
    cite = console.find(".msg[data-role=assistant] button.cite")
    assert (
        "【" not in console.find(".msg[data-role=assistant] .body").text
    )  # the marker became a link
    cite.click()

    view = console.find(f".file-view[data-file-id='{ids['cats.txt']}']")
    console.wait(lambda d: "Kittens sleep" in view.text)
    assert view.find_element("css selector", ".name").text == "cats.txt"
    assert "Kittens sleep most of the night" in view.find_element("css selector", ".quote").text
    assert "Kittens sleep" in view.find_element("css selector", ".file-text").text
    download = view.find_element("css selector", "a.download")
    assert download.get_attribute("href").startswith("blob:")
    assert download.get_attribute("download") == "cats.txt"


def test_a_code_interpreter_image_shows(
    console: Console,
    console_server: ServerProcess,
    model_provider: ScriptedProvider,
    key: str,
    sandbox_settings: SandboxSettings,
) -> None:
    model_provider.script(RunCode(), EchoToolResult("Result:"))
    _assistant(console_server, key, tools=[{"type": "code_interpreter"}])
    open_playground(console, key)
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 4, 2])\nprint('plotted')"
    send(console, f"Run this:\n```python\n{code}\n```")

    run_status(console, "completed")
    tool = console.find(".live-tools .tool-code_interpreter")
    assert "plt.plot([1, 4, 2])" in tool.find_element("css selector", "pre.code").text
    console.wait(lambda d: "plotted" in tool.text)
    image = console.find(".live-tools .tool-code_interpreter img.msg-image")
    console.wait(lambda d: (image.get_attribute("src") or "").startswith("blob:"))
    console.wait(
        lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", image
        )
    )
    # The answer message carries the image too.
    answer = console.find(".msg[data-role=assistant] img.msg-image")
    console.wait(
        lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", answer
        )
    )


def test_a_failed_run_says_why_in_the_words_of_last_error(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    model_provider.forever(Error(400, "This model does not accept the word banana."))
    _assistant(console_server, key)
    open_playground(console, key)
    send(console, "banana")

    run_status(console, "failed")
    reason = console.find(".run-box .run-error")
    console.wait(lambda d: "This model does not accept the word banana." in reason.text)
    run = rest(console_server, key).beta.threads.runs.list(_thread_id(console)).data[0]
    assert run.last_error is not None and run.last_error.message in reason.text
    assert f"({run.last_error.code})" in reason.text


def test_a_running_run_is_cancelled_from_the_page(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    model_provider.script(Endless(word="more ", chunk_delay=0.2))
    _assistant(console_server, key)
    open_playground(console, key)
    send(console, "Never stop")

    run_status(console, "in_progress")
    console.find(".msg[data-role=assistant] .streaming")
    console.find("button.cancel-run").click()
    run_status(console, "cancelled")
    assert "cancelled" in console.find(".run-box .run-error").text
    run = rest(console_server, key).beta.threads.runs.list(_thread_id(console)).data[0]
    assert run.status == "cancelled"


# No underscores: Markdown would take `_..._` for emphasis and the checks below read text.
HOSTILE = (
    "<script>window.pwned = 1</script> and "
    '<img src=x onerror="window.pwned = 2"> and '
    "[click me](javascript:window.pwned=3) and "
    "[data](data:text/html,<script>window.pwned=4</script>) and **bold**"
)


@pytest.mark.parametrize("where", ["answer", "function arguments"])
def test_model_output_that_tries_to_run_script_is_inert(
    console: Console,
    console_server: ServerProcess,
    model_provider: ScriptedProvider,
    key: str,
    where: str,
) -> None:
    if where == "answer":
        model_provider.script(Text(HOSTILE))
        _assistant(console_server, key)
    else:
        model_provider.script(
            ToolCalls(Call("get_weather", {"city": HOSTILE}, id="call_x")),
        )
        _assistant(console_server, key, tools=[WEATHER_TOOL])
    open_playground(console, key)
    send(console, '<img src=y onerror="window.pwned = 5"> hello')

    if where == "answer":
        run_status(console, "completed")
        body = console.wait_text(".msg[data-role=assistant] .body .md", "and")
        console.wait(lambda d: "<script>window.pwned = 1</script>" in body.text)
        assert "[click me](javascript:window.pwned=3)" in body.text
        assert body.find_element("css selector", "strong").text == "bold"
    else:
        run_status(console, "requires_action")
        body = console.find(".tool-outputs .pending-call pre.args")
        assert "<script>window.pwned = 1</script>" in body.text
    page = console.find("[data-page=playground]")
    for css in (
        "script",
        "img[onerror]",
        "[onerror]",
        "a[href^=javascript]",
        "a[href^=data]",
        "iframe",
    ):
        assert page.find_elements("css selector", css) == [], css
    # The user's own hostile text, and the newest message's preview in the thread list, are
    # text too.
    console.wait_text(".msg[data-role=user] .body", "<img src=y onerror=")
    newest = "<script>window.pwned = 1" if where == "answer" else "<img src=y onerror="
    console.wait_text(".threads .preview", newest)
    no_script_ran(console)


def test_attachments_are_uploaded_and_sent_with_the_message(
    console: Console,
    console_server: ServerProcess,
    model_provider: ScriptedProvider,
    key: str,
    tmp_path: Any,
) -> None:
    _assistant(console_server, key, tools=[{"type": "file_search"}])
    model_provider.script(Text("Got it."))
    note = tmp_path / "notes <b>.txt"
    note.write_text("Meeting notes: ship on Friday.")
    open_playground(console, key)
    console.find("input[name=attachments]").send_keys(str(note))
    send(console, "Here are my notes")

    run_status(console, "completed")
    client = rest(console_server, key)
    thread_id = _thread_id(console)
    message = client.beta.threads.messages.list(thread_id, order="asc").data[0]
    (attachment,) = message.attachments or []
    assert client.files.retrieve(attachment.file_id).filename == "notes <b>.txt"
    assert [tool.type for tool in attachment.tools or []] == ["file_search"]
    shown = console.find(f".msg[data-message-id={message.id}] .attachments")
    assert attachment.file_id in shown.text
    # The message's file joined the thread's vector store (file_search attachments do).
    thread = client.beta.threads.retrieve(thread_id)
    assert thread.tool_resources and thread.tool_resources.file_search
    wait_until(lambda: len(model_provider.requests) == 1, "the model request")


def test_the_playground_fits_a_phone_and_works_by_keyboard(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    from selenium.webdriver.common.keys import Keys

    from tests.support.browser import DESKTOP, PHONE

    model_provider.script(
        Text("A reply on a small screen, with a rather long unbroken word: " + "x" * 80)
    )
    _assistant(console_server, key)
    console.driver.set_window_size(*PHONE)
    try:
        open_playground(console, key)
        box = console.find("textarea[name=message]")
        box.send_keys("Hello from a phone")
        box.send_keys(Keys.CONTROL, Keys.ENTER)  # Ctrl+Enter sends, as the button does
        run_status(console, "completed")
        console.wait_text(".msg[data-role=assistant] .body", "small screen")
        overflow = console.driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"the page is {overflow} px wider than the phone"
    finally:
        console.driver.set_window_size(*DESKTOP)


def test_a_run_started_elsewhere_is_followed_and_can_be_cancelled(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    client = rest(console_server, key)
    assistant_id = _assistant(console_server, key)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Go on forever"}])
    model_provider.script(Endless(word="more ", chunk_delay=0.2))
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)
    wait_until(lambda: model_provider.requests, "the model request")

    open_playground(console, key, thread.id)
    run_status(console, "in_progress")
    assert run.id in console.find(".run-head .run-id").text
    console.find("button.cancel-run").click()
    run_status(console, "cancelled")  # followed by polling: this page has no stream of it
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "cancelled"
    # The run's partial message was read again once it had ended.
    console.wait_text(".msg[data-role=assistant] .body", "more")
