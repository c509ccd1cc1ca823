"""Generated files in the assistant's message: image_file parts and file_path annotations,
checked against the spec's schemas."""

from __future__ import annotations

from openai_assistant_mcp.engine.services.generated_files import (
    file_path_annotations,
    image_parts,
)
from tests.support.spec import problems

FILES = [
    {"file_id": "file-img1", "image": True},
    {"file_id": "file-old", "path": "/mnt/data/out.csv"},
    {"file_id": "file-new", "path": "/mnt/data/out.csv"},
    {"file_id": "file-rep", "path": "/mnt/data/report v2.txt"},
    {"file_id": "file-img1", "image": True},
]


def test_images_become_image_file_parts_once_each() -> None:
    parts = image_parts(FILES)
    assert [p["image_file"]["file_id"] for p in parts] == ["file-img1"]
    assert problems(parts[0], "MessageContentImageFileObject") == []


def test_sandbox_links_become_file_path_annotations() -> None:
    text = (
        "Download [the CSV](sandbox:/mnt/data/out.csv). Also sandbox:/mnt/data/out.csv, "
        "not sandbox:/mnt/data/missing.csv nor /mnt/data/out.csv."
    )
    annotations = file_path_annotations(text, FILES)
    assert [(a["text"], a["file_path"]["file_id"]) for a in annotations] == [
        ("sandbox:/mnt/data/out.csv", "file-new"),
        ("sandbox:/mnt/data/out.csv", "file-new"),
    ]
    for annotation in annotations:
        assert text[annotation["start_index"] : annotation["end_index"]] == annotation["text"]
        assert problems(annotation, "MessageContentTextAnnotationsFilePathObject") == []


def test_no_files_no_annotations() -> None:
    assert file_path_annotations("see sandbox:/mnt/data/out.csv", []) == []
    assert image_parts([]) == []
