"""One key, one tenant, in the console too: a second key's pages never show the first key's
assistants, files or stores, even by their IDs."""

from __future__ import annotations

from typing import Any

from tests.support.browser import Console


def test_another_key_sees_none_of_the_first_keys_objects(
    console: Console, key: str, rest: Any
) -> None:
    api = rest(key)
    assistant = api.beta.assistants.create(model="scripted-model", name="first key's assistant")
    made = api.files.create(file=("first-key.txt", b"private notes"), purpose="assistants")
    store = api.vector_stores.create(name="first key's store", file_ids=[made.id])
    other = f"{key}-other"

    console.open("assistants", key=other)
    assert "No assistants yet" in console.find("[data-page=assistants] .empty").text
    console.open("files", key=other)
    assert "No files yet" in console.find("[data-page=files] .empty").text
    console.open("stores", key=other)
    assert "No vector stores yet" in console.find("[data-page=stores] .empty").text
    console.open(f"assistants/{assistant.id}", key=other)
    assert assistant.id in console.find("main .error").text  # "No assistant found with id ..."
    console.open(f"stores/{store.id}", key=other)
    assert store.id in console.find("main .error").text
    page = console.driver.execute_script("return document.body.innerText")
    assert "first key" not in page and "first-key.txt" not in page

    console.open("assistants", key=key)  # the first key still sees its own
    console.find(f"tr[data-id='{assistant.id}']")
