"""Usable at 1280 px and at phone width (nothing wider than the screen; tables become cards),
and by keyboard (every control reachable with Tab, a visible focus ring)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import DESKTOP, PHONE, Console

PAGES = ["assistants", "assistants/new", "files", "stores"]


@pytest.fixture
def sized(console: Console) -> Iterator[Any]:
    def resize(size: tuple[int, int]) -> None:
        console.driver.set_window_size(*size)

    yield resize
    console.driver.set_window_size(*DESKTOP)


def _overflow(console: Console) -> int:
    return int(
        console.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280px", "phone"])
def test_no_page_is_wider_than_the_screen(
    console: Console, key: str, rest: Any, sized: Any, size: tuple[int, int]
) -> None:
    api = rest(key)
    api.beta.assistants.create(
        model="scripted-model",
        name="An assistant with a rather long name to wrap on a phone",
        tools=[{"type": "code_interpreter"}, {"type": "file_search"}],
    )
    made = api.files.create(file=("a-long-file-name-for-the-table.txt", b"x"), purpose="assistants")
    api.vector_stores.create(name="notes", file_ids=[made.id])
    sized(size)
    for page in PAGES:
        console.open(page, key=key)
        console.find(f"[data-page='{page.split('/')[0]}'] table, form.assistant-form")
        assert _overflow(console) <= 0, page
    header_shown = console.driver.execute_script(
        "return getComputedStyle(document.querySelector('thead')).position !== 'absolute'"
    )
    assert header_shown is (size == DESKTOP)  # on a phone each row is a card


def test_every_control_is_reachable_by_tab_with_a_visible_focus_ring(
    console: Console, key: str
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    console.open("assistants/new", key=key)
    console.find("form.assistant-form")
    reached: list[str] = []
    ringless: list[str] = []
    for _ in range(40):
        ActionChains(console.driver).send_keys(Keys.TAB).perform()
        focused = console.driver.execute_script(
            "const el = document.activeElement;"
            "return [el.tagName.toLowerCase() + (el.name ? '[' + el.name + ']' : ''),"
            " el.textContent.trim().slice(0, 20), getComputedStyle(el).boxShadow];"
        )
        reached.append(f"{focused[0]} {focused[1]}")
        if focused[2] == "none" and focused[0] != "body":  # body: Tab left the page's end
            ringless.append(f"{focused[0]} {focused[1]}")
    text = "\n".join(reached)
    for expected in ("a Files", "input[name]", "input[model]", "textarea[instructions]"):
        assert expected in text, text
    assert ringless == []  # :focus-visible draws a ring on each of them
