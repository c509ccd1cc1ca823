"""The built-in tools the engine's runs execute themselves, listed once and handed to the run
executor. A new built-in tool is its own module (a `runs.builtin.BuiltinTool`) plus one line
here; its type is one of the API's (`shapes.tools.BuiltinToolType`)."""

from __future__ import annotations

from .runs.builtin import BuiltinTools
from .runs.file_search import FileSearch
from .sandbox.code_interpreter import CodeInterpreter
from .settings import EngineSettings


def builtin_tools(settings: EngineSettings) -> BuiltinTools:
    return BuiltinTools(
        (
            FileSearch(),
            CodeInterpreter(settings.sandbox, settings.data_dir / "sandbox-sessions"),
        )
    )
