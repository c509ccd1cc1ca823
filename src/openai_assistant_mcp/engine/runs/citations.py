"""Citations: the source markers a message quotes from this run's file_search results become
`file_citation` annotations; markers the model made up stay plain text."""

from __future__ import annotations

from typing import Any


def citations(text: str, sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A `file_citation` annotation for every occurrence in `text` of a marker the run's
    searches returned (`sources`: {"marker", "file_id", ...}), in text order."""
    by_marker = {s["marker"]: s["file_id"] for s in sources if s.get("marker", "") in text}
    found = []
    for mark, file_id in by_marker.items():
        start = text.find(mark)
        while start != -1:
            end = start + len(mark)
            found.append(
                {
                    "type": "file_citation",
                    "text": mark,
                    "start_index": start,
                    "end_index": end,
                    "file_citation": {"file_id": file_id},
                }
            )
            start = text.find(mark, end)
    return sorted(found, key=lambda a: a["start_index"])
