"""Untrusted text stays inert in the console: assistant names, descriptions, metadata, file
names and store names carrying markup are shown as the text they are; no element is injected,
no handler runs. The Markdown renderer builds elements and never makes a script or a
javascript: link."""

from __future__ import annotations

from typing import Any

from tests.support.browser import Console

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=2</script>"
SVG = '<svg onload="window.__xss=3"></svg>'
# Multipart clients percent-encode a file name's double quotes: this one needs none.
FILE_IMG = "<img src=x onerror=window.__xss=1>"


def _assert_inert(console: Console) -> None:
    found = console.driver.execute_script(
        "return {flag: window.__xss === undefined ? null : window.__xss,"
        " imgs: document.querySelectorAll('img[src=\"x\"]').length,"
        " scripts: [...document.scripts].filter(s => !s.src).length,"
        " svgs: document.querySelectorAll('main svg').length}"
    )
    assert found == {"flag": None, "imgs": 0, "scripts": 0, "svgs": 0}


def test_assistant_names_descriptions_and_metadata_render_as_text(
    console: Console, key: str, rest: Any
) -> None:
    made = rest(key).beta.assistants.create(
        model="scripted-model",
        name=IMG,
        description=SCRIPT,
        metadata={"note": SVG, "tag": "<b>bold?</b>"},
    )
    console.open("assistants", key=key)
    row = console.find(f"tr[data-id='{made.id}']")
    assert IMG in row.text and SCRIPT in row.text and SVG in row.text
    assert "<b>bold?</b>" in row.text
    _assert_inert(console)
    console.open(f"assistants/{made.id}", key=key)
    assert console.find("form.assistant-form input[name=name]").get_attribute("value") == IMG
    assert IMG in console.find("[data-page=assistants] h1").text
    _assert_inert(console)


def test_file_and_store_names_render_as_text(console: Console, key: str, rest: Any) -> None:
    api = rest(key)
    made = api.files.create(file=(f"{FILE_IMG}.txt", b"hello there"), purpose="assistants")
    store = api.vector_stores.create(name=SVG, file_ids=[made.id])
    console.open("files", key=key)
    assert f"{FILE_IMG}.txt" in console.find(f"tr[data-id='{made.id}']").text
    _assert_inert(console)
    console.open("stores", key=key)
    assert SVG in console.find(f"tr[data-id='{store.id}']").text
    _assert_inert(console)
    console.open(f"stores/{store.id}", key=key)
    assert FILE_IMG in console.find(f".store-files tr[data-id='{made.id}']").text
    assert SVG in console.find("[data-page=stores] h1").text
    _assert_inert(console)


def test_markdown_builds_elements_and_never_scripts(console: Console, key: str) -> None:
    console.open("assistants", key=key)
    text = (
        f"# Title {IMG}\n\nSome **bold** and `code` and [docs](https://example.com/a)\n"
        f"[bad](javascript:window.__xss=4) {SCRIPT}\n\n- one {SVG}\n- two\n\n"
        "```html\n<script>window.__xss=5</script>\n```"
    )
    shown = console.driver.execute_async_script(
        """
        const [text, done] = arguments;
        import('./dom.js').then(({markdown}) => {
          const node = markdown(text);
          document.querySelector('main').appendChild(node);
          done({
            tags: [...node.querySelectorAll('*')].map((el) => el.tagName.toLowerCase()),
            links: [...node.querySelectorAll('a')].map((a) => a.getAttribute('href')),
            text: node.textContent,
          });
        });
        """,
        text,
    )
    assert set(shown["tags"]) <= {"h3", "p", "strong", "code", "a", "br", "ul", "li", "pre"}
    assert shown["links"] == ["https://example.com/a"]
    assert IMG in shown["text"] and SCRIPT in shown["text"] and SVG in shown["text"]
    assert "[bad](javascript:window.__xss=4)" in shown["text"]
    _assert_inert(console)
