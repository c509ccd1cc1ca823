"""Files a run's built-in tools generated, as OpenAI showed them in the assistant's message:
images as `image_file` parts before the text, and `sandbox:/mnt/data/<name>` links in the text
as `file_path` annotations naming the File."""

from __future__ import annotations

import re
from typing import Any

LINK = re.compile(r"sandbox:(/mnt/data/[^\s)\]\"'<>`]+)")


def image_parts(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One `image_file` content part per generated image, in the order they were made."""
    seen: list[str] = []
    for entry in files:
        if entry.get("image") and entry.get("file_id") not in seen:
            seen.append(entry["file_id"])
    return [{"type": "image_file", "image_file": {"file_id": f, "detail": "auto"}} for f in seen]


def file_path_annotations(text: str, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A `file_path` annotation for each sandbox link in `text` to a file the run wrote (the
    latest version when the run wrote one path several times)."""
    by_path = {entry["path"]: entry["file_id"] for entry in files if entry.get("path")}
    annotations = []
    for match in LINK.finditer(text):
        path = match.group(1).rstrip(".,;:!?")
        file_id = by_path.get(path)
        if file_id is None:
            continue
        end = match.start() + len("sandbox:") + len(path)
        annotations.append(
            {
                "type": "file_path",
                "text": text[match.start() : end],
                "start_index": match.start(),
                "end_index": end,
                "file_path": {"file_id": file_id},
            }
        )
    return annotations
