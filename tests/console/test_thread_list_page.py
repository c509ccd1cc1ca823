"""The playground's thread list in a real browser: the caller's threads (GET /v1/x-threads),
newest first, paged with "More threads", reopened with their messages; another tenant's
threads never appear."""

from __future__ import annotations

from tests.mcp.servers import ServerProcess
from tests.support.browser import Console

from .helpers import no_script_ran, open_playground, rest

PAGE = 30  # the page's THREAD_PAGE


def test_only_the_callers_threads_newest_first_and_reopened(
    console: Console, console_server: ServerProcess, key: str
) -> None:
    mine = rest(console_server, key)
    other = rest(console_server, key + "-other")
    mine.beta.assistants.create(model="gpt-test", name="Lister")
    older = mine.beta.threads.create(
        messages=[
            {"role": "user", "content": "The older question"},
            {"role": "assistant", "content": "An **older** answer"},
        ]
    )
    newer = mine.beta.threads.create(messages=[{"role": "user", "content": "The newer question"}])
    hidden = other.beta.threads.create(
        messages=[{"role": "user", "content": "<img src=z onerror=window.pwned=1> secret"}]
    )

    open_playground(console, key)
    console.wait_text(".threads li", "The newer question")
    items = console.find_all(".threads li[data-thread-id]")
    assert [i.get_attribute("data-thread-id") for i in items] == [newer.id, older.id]
    assert "An **older** answer" in items[1].text  # the newest message's preview, as text
    assert hidden.id not in console.driver.page_source
    assert "secret" not in console.find("[data-page=playground]").text

    items[1].find_element("css selector", "a").click()
    console.wait_text(".msg[data-role=assistant] .body strong", "older")
    assert console.find(".thread-head .thread-id").text == older.id
    assert [m.text for m in console.find_all(".msg .body")] == [
        "The older question",
        "An older answer",
    ]
    assert older.id in console.driver.current_url
    assert console.find(f".threads li[data-thread-id={older.id}] a").get_attribute("aria-current")
    no_script_ran(console)


def test_more_threads_pages_on(console: Console, console_server: ServerProcess, key: str) -> None:
    client = rest(console_server, key)
    client.beta.assistants.create(model="gpt-test")
    made = [client.beta.threads.create().id for _ in range(PAGE + 2)]

    open_playground(console, key)
    console.wait(
        lambda d: len(d.find_elements("css selector", ".threads li[data-thread-id]")) == PAGE
    )
    console.find(".more-threads").click()
    console.wait(
        lambda d: len(d.find_elements("css selector", ".threads li[data-thread-id]")) == PAGE + 2
    )
    shown = [
        i.get_attribute("data-thread-id") for i in console.find_all(".threads li[data-thread-id]")
    ]
    assert shown == made[::-1]
    assert not console.find(".more-threads").is_displayed()


def test_no_threads_and_no_assistants_say_what_to_do(
    console: Console, console_server: ServerProcess, key: str
) -> None:
    open_playground(console, key)
    console.wait_text(".threads", "No threads yet")
    console.wait_text(".messages .empty", "Create an assistant first")
    assert console.find(".messages .empty a").get_attribute("href").endswith("#/assistants")


def test_another_tenants_thread_cannot_be_opened_by_its_id(
    console: Console, console_server: ServerProcess, key: str
) -> None:
    rest(console_server, key).beta.assistants.create(model="gpt-test")
    theirs = rest(console_server, key + "-owner").beta.threads.create(
        messages=[{"role": "user", "content": "Only the owner reads this"}]
    )
    open_playground(console, key, theirs.id)
    error = console.find(".messages .error")
    assert error.text == f"No thread found with id '{theirs.id}'."
    assert "Only the owner" not in console.find("[data-page=playground]").text
    assert console.find_all(".msg") == []
    assert theirs.id not in console.find(".thread-head").text  # a message starts a new thread
