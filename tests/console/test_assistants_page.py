"""The Assistants page in a real browser: list, create (function tools with JSON-schema
parameters, built-in tools and their resources, response_format, sampling), edit, delete, and
errors said in one line."""

from __future__ import annotations

import json
from typing import Any

from tests.support.browser import Console

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def _fill(element: Any, text: str) -> None:
    element.clear()
    element.send_keys(text)


def _set_json(console: Console, element: Any, value: Any) -> None:
    """Typing JSON key by key is slow and auto-indent-free anyway: set it and fire `input`."""
    console.driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        element,
        value if isinstance(value, str) else json.dumps(value),
    )


def test_a_new_key_sees_an_empty_state_with_a_way_to_create(console: Console, key: str) -> None:
    console.open("assistants", key=key)
    state = console.find("[data-page=assistants] .empty")
    assert "No assistants yet" in state.text
    state.find_element("link text", "Create an assistant").click()
    console.find("form.assistant-form")


def test_create_an_assistant_with_a_function_tool_and_every_setting(
    console: Console, key: str, rest: Any
) -> None:
    api = rest(key)
    store = api.vector_stores.create(name="handbook")
    upload = api.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="assistants")
    console.open("assistants/new", key=key)
    form = console.find("form.assistant-form")
    _fill(form.find_element("name", "name"), "Weather helper")
    _fill(form.find_element("name", "model"), "scripted-model")
    _fill(form.find_element("name", "instructions"), "Answer with the weather.")
    _fill(form.find_element("name", "temperature"), "0.3")
    _fill(form.find_element("name", "top_p"), "0.9")
    form.find_element("name", "code_interpreter").click()
    form.find_element("css selector", f"input[value='{upload.id}']").click()
    form.find_element("name", "file_search").click()
    from selenium.webdriver.support.ui import Select

    Select(form.find_element("name", "vector_store")).select_by_value(store.id)
    Select(form.find_element("name", "response_format")).select_by_value("json_schema")
    schema = {"name": "weather", "schema": {"type": "object", "properties": {}}, "strict": False}
    _set_json(console, form.find_element("name", "json_schema"), schema)
    console.wait_text("button", "Add function").click()
    function = console.find("fieldset.function")
    _fill(function.find_element("name", "fn-name"), "get_weather")
    _fill(function.find_element("name", "fn-description"), "The weather in a city")
    _set_json(console, function.find_element("name", "fn-parameters"), WEATHER)
    assert function.find_element("css selector", ".json-note").text == "Valid JSON."
    _set_json(console, form.find_element("name", "metadata"), {"team": "ops"})
    form.find_element("css selector", "button[type=submit]").click()

    console.wait_text("table.assistants td", "Weather helper")
    [made] = api.beta.assistants.list().data
    assert made.name == "Weather helper" and made.model == "scripted-model"
    assert made.instructions == "Answer with the weather."
    assert made.temperature == 0.3 and made.top_p == 0.9
    assert made.metadata == {"team": "ops"}
    types = [tool.type for tool in made.tools]
    assert types == ["code_interpreter", "file_search", "function"]
    function_tool = made.tools[2]
    assert function_tool.function.name == "get_weather"
    assert function_tool.function.parameters == WEATHER
    assert made.tool_resources.code_interpreter.file_ids == [upload.id]
    assert made.tool_resources.file_search.vector_store_ids == [store.id]
    assert made.response_format.type == "json_schema"
    assert made.response_format.json_schema.name == "weather"
    row = console.find(f"tr[data-id='{made.id}']")
    assert "get_weather" in row.text and "code_interpreter" in row.text


def test_invalid_json_parameters_are_named_in_the_page_and_nothing_is_created(
    console: Console, key: str, rest: Any
) -> None:
    console.open("assistants/new", key=key)
    form = console.find("form.assistant-form")
    _fill(form.find_element("name", "model"), "scripted-model")
    console.wait_text("button", "Add function").click()
    function = console.find("fieldset.function")
    _fill(function.find_element("name", "fn-name"), "broken")
    _set_json(console, function.find_element("name", "fn-parameters"), '{"type": "object",')
    note = function.find_element("css selector", ".json-note")
    assert note.text.startswith("Parameters is not valid JSON")
    form.find_element("css selector", "button[type=submit]").click()
    error = console.wait_text(".form-error", "Function broken: Parameters is not valid JSON")
    assert "\n" not in error.text
    assert rest(key).beta.assistants.list().data == []


def test_the_apis_refusal_is_shown_in_one_line(console: Console, key: str, rest: Any) -> None:
    console.open("assistants/new", key=key)
    form = console.find("form.assistant-form")
    _fill(form.find_element("name", "model"), "scripted-model")
    console.wait_text("button", "Add function").click()
    function = console.find("fieldset.function")
    _fill(function.find_element("name", "fn-name"), "has space")  # not a valid function name
    form.find_element("css selector", "button[type=submit]").click()
    error = console.wait(lambda d: d.find_element("css selector", ".form-error").text or None)
    assert "tools[0].function.name" in error and "\n" not in error
    assert rest(key).beta.assistants.list().data == []


def test_edit_then_delete(console: Console, key: str, rest: Any) -> None:
    api = rest(key)
    made = api.beta.assistants.create(
        model="scripted-model",
        name="Before",
        tools=[{"type": "function", "function": {"name": "f", "parameters": WEATHER}}],
    )
    console.open(f"assistants/{made.id}", key=key)
    form = console.find("form.assistant-form")
    assert form.find_element("name", "name").get_attribute("value") == "Before"
    _fill(form.find_element("name", "name"), "After")
    _fill(form.find_element("name", "instructions"), "New instructions")
    console.wait_text("fieldset.function button", "Remove function").click()
    form.find_element("css selector", "button[type=submit]").click()
    console.wait_text("table.assistants td", "After")
    edited = api.beta.assistants.retrieve(made.id)
    assert edited.name == "After" and edited.instructions == "New instructions"
    assert edited.tools == []

    delete = console.find(f"tr[data-id='{made.id}'] button[data-action=delete]")
    delete.click()
    assert delete.text == "Confirm delete"
    delete.click()
    console.wait_text("[data-page=assistants] .empty", "No assistants yet")
    assert api.beta.assistants.list().data == []
