"""What code_interpreter did in a run, for the run tools' results: the code and its outputs
(in the structured result), its images as MCP image content (so the user's client shows the
chart) and the files it made (IDs to fetch with get_file_content)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .common import as_dict

if TYPE_CHECKING:
    from openai import AsyncOpenAI

MAX_IMAGES = 4  # charts returned whole per run result; the rest by file ID
IMAGE_MAX_BYTES = 5 * 1024 * 1024


@dataclass
class CodeResults:
    calls: list[dict[str, Any]] = field(default_factory=list)  # step tool calls
    files: list[dict[str, Any]] = field(default_factory=list)  # {file_id, path}
    text: str = ""  # for the summary line (code and logs are in `calls`)
    images: list[tuple[str, str]] = field(default_factory=list)  # (base64, mime)


async def code_results(
    api: AsyncOpenAI, run: Any, messages: list[dict[str, Any]], steps: list[Any] | None = None
) -> CodeResults | None:
    """The run's code_interpreter calls and outputs; None when the run has no such tool.
    `steps`: the run's steps if already known (from its stream), else they are read."""
    if not any(getattr(tool, "type", None) == "code_interpreter" for tool in run.tools or []):
        return None
    found = CodeResults()
    if steps is None:
        page = await api.beta.threads.runs.steps.list(
            run.id, thread_id=run.thread_id, order="asc", limit=100
        )
        steps = page.data
    image_ids: list[str] = []
    for step in steps[:100]:
        # Read by their `type` tags (the SDK's unions also admit unknown members as Any).
        details: Any = step.step_details
        if details.type != "tool_calls":
            continue
        for call in details.tool_calls:
            if call.type != "code_interpreter":
                continue
            found.calls.append(as_dict(call))
            for output in call.code_interpreter.outputs:
                if output.type == "image":
                    image_ids.append(output.image.file_id)
    for message in messages:
        for part in message.get("content") or []:
            for note in (part.get("text") or {}).get("annotations") or []:
                if note.get("type") == "file_path":
                    entry = {"file_id": note["file_path"]["file_id"], "path": note["text"]}
                    if entry not in found.files:
                        found.files.append(entry)
    found.text = f"Code interpreter: {len(found.calls)} execution(s), {len(image_ids)} image(s)"
    if found.files:
        listed = ", ".join(f"{f['path']} = {f['file_id']}" for f in found.files)
        found.text += f"; files (get_file_content): {listed}"
    for file_id in image_ids[:MAX_IMAGES]:
        file = await api.files.retrieve(file_id)
        if file.bytes <= IMAGE_MAX_BYTES:
            content = await api.files.content(file_id)
            found.images.append((base64.b64encode(content.content).decode(), "image/png"))
    return found
