"""The shell in a real browser: the key prompt, the navigation, where the key goes (headers
only: never a URL, a cookie or storage the user did not choose)."""

from __future__ import annotations

from typing import Any

from tests.support.browser import Console


def _storage(console: Console) -> dict[str, Any]:
    return dict(
        console.driver.execute_script(
            "return {local: JSON.stringify(localStorage), session: JSON.stringify(sessionStorage),"
            " cookie: document.cookie, url: location.href}"
        )
    )


def test_the_key_prompt_comes_first_and_the_key_stays_out_of_urls_cookies_and_storage(
    console: Console, key: str
) -> None:
    console.open("assistants")
    assert console.find("form.keyform input[name=key]").get_attribute("type") == "password"
    console.sign_in(key)
    console.find("[data-page=assistants]")
    nav = [link.text for link in console.find_all("nav a")]
    assert nav == ["Assistants", "Playground", "Runs", "Files", "Vector stores"]
    assert console.find("#who").text.startswith(f"Key …{key[-4:]}")
    kept = _storage(console)
    assert key not in kept["url"] and key not in kept["cookie"]
    assert kept["local"] == "{}" and kept["session"] == "{}"
    assert console.driver.get_cookies() == []
    # Reloading forgets it: it was in memory only.
    console.open("files")
    console.find("form.keyform")


def test_remember_in_this_tab_keeps_the_key_in_session_storage_only(
    console: Console, key: str
) -> None:
    console.open("assistants")
    form = console.find("form.keyform")
    form.find_element("name", "key").send_keys(key)
    form.find_element("name", "remember").click()
    form.find_element("css selector", "button[type=submit]").click()
    console.find("[data-page=assistants]")
    kept = _storage(console)
    assert key in kept["session"] and key not in kept["local"]
    console.driver.refresh()
    console.find("[data-page=assistants]")  # no prompt: the tab remembered it
    console.find("#who button").click()  # "Change key" forgets it
    console.find("form.keyform")
    assert _storage(console)["session"] == "{}"


def test_the_navigation_is_real_links_reachable_by_keyboard(console: Console, key: str) -> None:
    from selenium.webdriver.common.keys import Keys

    console.open("assistants", key=key)
    files = console.wait_text("nav a", "Files")
    assert files.get_attribute("href").endswith("#/files")
    files.send_keys(Keys.ENTER)
    console.find("[data-page=files]")
    assert console.find("nav a[aria-current=page]").text == "Files"
