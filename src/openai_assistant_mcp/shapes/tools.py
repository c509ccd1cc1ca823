"""The API's tool types: `tools[].type` of assistants and runs, `tool_choice.type`."""

from __future__ import annotations

from typing import Literal, get_args

# The tool types the API runs on the server (the engine executes each itself; the executor's
# list of them is engine/builtin_tools.py). A new built-in tool type is one more name here.
BuiltinToolType = Literal["code_interpreter", "file_search"]
BUILTIN_TOOL_TYPES: tuple[str, ...] = get_args(BuiltinToolType)
# Every tool type an assistant or run may list: the caller's functions and the built-in ones.
ToolType = Literal["function", BuiltinToolType]
