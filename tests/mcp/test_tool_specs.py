"""Tools as data: toolsets named in one place with a description each, "waits" and local-file
reading declared on the ToolSpec (not inferred from argument names), read-only from annotations."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from openai_assistant_mcp import settings
from openai_assistant_mcp.mcp.tools.common import Args, Call, ToolResult
from openai_assistant_mcp.mcp.tools.registry import TOOLSET_NAMES, all_tools, toolsets
from openai_assistant_mcp.mcp.tools.spec import Toolset, ToolSpec
from openai_assistant_mcp.settings import Settings


def test_toolset_names_live_in_the_registry_and_settings_use_them() -> None:
    assert settings.TOOLSETS is TOOLSET_NAMES
    assert Settings().toolsets == TOOLSET_NAMES
    assert len(set(TOOLSET_NAMES)) == len(TOOLSET_NAMES)
    assert [toolset.name for toolset in toolsets()] == list(TOOLSET_NAMES)
    with pytest.raises(ValueError, match="unknown toolset 'nope'"):
        Settings(toolsets="runs,nope")


def test_every_toolset_has_a_one_line_description_and_stamps_its_tools() -> None:
    for toolset in toolsets():
        assert 20 < len(toolset.description) < 100 and "\n" not in toolset.description
        assert toolset.tools and {tool.toolset for tool in toolset.tools} == {toolset.name}
    assert [tool.toolset for tool in all_tools()] == [
        toolset.name for toolset in toolsets() for _ in toolset.tools
    ]


def test_waits_and_local_files_are_declared() -> None:
    waiting = {tool.name for tool in all_tools() if tool.waits}
    assert waiting == {"create_run", "create_thread_and_run", "submit_tool_outputs"}
    local = {tool.name for tool in all_tools() if tool.reads_local_files}
    assert local == {"upload_file"}


class _Timed(Args):
    timeout: float = Field(5, gt=0)


async def _handler(call: Call, args: _Timed) -> ToolResult:
    return ToolResult({}, "done")


def test_a_timeout_argument_alone_does_not_make_a_tool_wait() -> None:
    spec = ToolSpec("timed", "A tool with a timeout argument.", _Timed, _handler, "read")
    assert not spec.waits and spec.read_only and spec.annotations["readOnlyHint"]
    with pytest.raises(TypeError, match="takes a 'timeout'"):
        ToolSpec("w", "Waits without timeout.", Args, _handler, "create", waits=True)
    with pytest.raises(TypeError, match="takes a 'path'"):
        ToolSpec("f", "Reads without a path.", _Timed, _handler, "create", reads_local_files=True)
    (stamped,) = Toolset("set", "A toolset of one tool.", (spec,)).tools
    assert stamped.toolset == "set" and stamped.name == "timed"


def test_the_readme_lists_the_toolsets_the_registry_has() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert f"comma-separated subset of `{','.join(TOOLSET_NAMES)}`" in readme
