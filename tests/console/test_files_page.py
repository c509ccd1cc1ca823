"""The Files page in a real browser: several files uploaded at once (picker and drag and drop)
with progress, listed, downloaded byte for byte, deleted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.support.browser import WAIT_SECONDS, Console


def test_a_new_key_sees_an_empty_state(console: Console, key: str) -> None:
    console.open("files", key=key)
    assert "No files yet" in console.find("[data-page=files] .empty").text


def test_upload_several_at_once_with_progress_then_list(
    console: Console, key: str, rest: Any, tmp_path: Path
) -> None:
    paths = []
    for index, size in enumerate((10, 200_000, 3_000)):
        path = tmp_path / f"notes-{index}.txt"
        path.write_bytes(b"x" * size)
        paths.append(path)
    console.open("files", key=key)
    console.find("input.file-input").send_keys("\n".join(str(p) for p in paths))
    for path in paths:
        row = console.wait_text("table.files tr", path.name)
        assert "assistants" in row.text
    items = console.find_all("li.upload")
    assert [item.get_attribute("data-state") for item in items] == ["uploaded"] * 3
    bars = [item.find_element("tag name", "progress") for item in items]
    assert all(bar.get_attribute("value") == bar.get_attribute("max") for bar in bars)
    stored = {file.filename: file.bytes for file in rest(key).files.list().data}
    assert stored == {"notes-0.txt": 10, "notes-1.txt": 200_000, "notes-2.txt": 3_000}


def test_drag_and_drop_uploads_every_dropped_file(console: Console, key: str, rest: Any) -> None:
    console.open("files", key=key)
    zone = console.find(".drop")
    # A real drop event carrying two File objects, as the browser makes for a dropped selection.
    console.driver.execute_script(
        """
        const transfer = new DataTransfer();
        transfer.items.add(new File(['first dropped'], 'dropped-1.md', {type: 'text/markdown'}));
        transfer.items.add(new File(['second'], 'dropped-2.json', {type: 'application/json'}));
        const init = {dataTransfer: transfer, bubbles: true};
        arguments[0].dispatchEvent(new DragEvent('dragover', init));
        arguments[0].dispatchEvent(new DragEvent('drop', init));
        """,
        zone,
    )
    console.wait_text("table.files tr", "dropped-1.md")
    console.wait_text("table.files tr", "dropped-2.json")
    names = sorted(file.filename for file in rest(key).files.list().data)
    assert names == ["dropped-1.md", "dropped-2.json"]


def test_download_gives_the_same_bytes_and_delete_removes(
    console: Console, key: str, rest: Any
) -> None:
    api = rest(key)
    content = bytes(range(256)) * 40
    made = api.files.create(file=("table.bin", content), purpose="assistants")
    console.open("files", key=key)
    row = console.find(f"tr[data-id='{made.id}']")
    row.find_element("css selector", "button[data-action=download]").click()
    target = Path(console.driver.download_dir) / "table.bin"
    deadline = time.monotonic() + WAIT_SECONDS
    while not (target.exists() and target.stat().st_size == len(content)):
        assert time.monotonic() < deadline, "the download did not arrive"
        time.sleep(0.1)
    assert target.read_bytes() == content

    delete = row.find_element("css selector", "button[data-action=delete]")
    delete.click()
    delete.click()
    console.wait_text("[data-page=files] .empty", "No files yet")
    assert api.files.list().data == []
