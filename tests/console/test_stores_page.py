"""The Vector-stores page in a real browser: create a store, add files, watch each file's
ingestion status change (polled), search and see ranked chunks with their scores."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.support.browser import Console

ZEBRAS = "Zebras graze on the savanna grass and sleep standing up in small herds."
ENGINES = "A diesel engine ignites its fuel by the heat of compression alone."


def test_a_new_key_sees_an_empty_state(console: Console, key: str) -> None:
    console.open("stores", key=key)
    assert "No vector stores yet" in console.find("[data-page=stores] .empty").text


def test_create_add_files_watch_ingestion_and_search(
    console: Console, key: str, rest: Any, tmp_path: Path
) -> None:
    api = rest(key)
    zebras = api.files.create(file=("zebras.txt", ZEBRAS.encode()), purpose="assistants")
    engines = api.files.create(file=("engines.txt", ENGINES.encode()), purpose="assistants")
    console.open("stores", key=key)
    form = console.find("form.new-store")
    form.find_element("name", "store-name").send_keys("Field notes")
    form.find_element("css selector", "button[type=submit]").click()
    console.wait_text("[data-page=stores] h1", "Field notes")
    assert "No files in this store yet" in console.find(".store-files .empty").text

    console.find(f"input[value='{zebras.id}']").click()
    console.find(f"input[value='{engines.id}']").click()
    console.find("button[data-action=add-files]").click()
    # Each file's row shows its status; the page polls until ingestion is over.
    for made in (zebras, engines):
        console.find(f".store-files tr[data-id='{made.id}']")
    for made in (zebras, engines):
        console.find(f".store-files tr[data-id='{made.id}'][data-status=completed]")
    assert "2 ready" in console.find(".store-summary").text
    [store] = api.vector_stores.list().data
    assert store.file_counts.completed == 2

    query = console.find("form.search input[name=query]")
    query.send_keys("where do zebras sleep")
    console.find("form.search button[type=submit]").click()
    first = console.find("ol.chunks li.chunk")
    assert first.get_attribute("data-file") == zebras.id
    assert "zebras.txt" in first.text and ZEBRAS in first.text
    scores = [
        float(re.search(r"score ([0-9.]+)", item.text).group(1))  # type: ignore[union-attr]
        for item in console.find_all("ol.chunks li.chunk")
    ]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1


def test_upload_into_a_store_and_a_failed_file_says_why(
    console: Console, key: str, rest: Any, tmp_path: Path
) -> None:
    api = rest(key)
    store = api.vector_stores.create(name="uploads")
    good = tmp_path / "guide.md"
    good.write_text("# Guide\n\nTurn the valve clockwise to close it.")
    bad = tmp_path / "picture.xyz"
    bad.write_bytes(b"\x00\x01 not a document")
    console.open(f"stores/{store.id}", key=key)
    console.find(".add-card input.file-input").send_keys(f"{good}\n{bad}")
    console.wait(lambda d: len(d.find_elements("css selector", ".store-files tr[data-id]")) == 2)
    console.find(".store-files tr[data-status=completed]")
    failed = console.find(".store-files tr[data-status=failed]")
    assert "picture.xyz" in failed.text
    reason = failed.find_element("css selector", ".error").text
    assert reason and "\n" not in reason
    stored = {entry.status for entry in api.vector_stores.files.list(store.id).data}
    assert stored == {"completed", "failed"}
