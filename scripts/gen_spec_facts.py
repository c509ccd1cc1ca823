"""Regenerate tests/support/spec_facts.json from OpenAI's OpenAPI spec (YAML).

    uv run python scripts/gen_spec_facts.py PATH/TO/openai-assistants.openapi.yaml

The tests validate responses against these facts only: object and field names, types, enums,
required lists, limits, references, paths with their parameters and documented statuses, and
the stream events. Every piece of prose (descriptions, summaries, titles, examples, vendor
`x-` extensions, tags, docs links) is dropped, so no text of the spec is carried in the repo.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

OUTPUT = Path(__file__).resolve().parents[1] / "tests/support/spec_facts.json"

# Keywords that carry prose or samples, never facts a test checks.
PROSE_KEYWORDS = frozenset(
    {"description", "summary", "title", "example", "examples", "externalDocs", "tags", "$comment"}
)
# Maps whose keys are names chosen by the spec (property names, paths, status codes), not
# keywords: a property called "title" or "description" must survive.
NAME_MAPS = frozenset(
    {"properties", "patternProperties", "schemas", "paths", "responses", "securitySchemes",
     "parameters", "content", "headers", "mapping", "$defs", "definitions", "scopes"}
)  # fmt: skip
OPERATION_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def strip_prose(node: Any, *, names: bool = False) -> Any:
    """`node` without prose keywords; when `names`, node's own keys are names, kept as they are
    (their values are still stripped)."""
    if isinstance(node, list):
        return [strip_prose(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if not names and (key in PROSE_KEYWORDS or key.startswith("x-")):
            continue
        out[key] = strip_prose(value, names=not names and key in NAME_MAPS)
    return out


def facts(spec: dict[str, Any]) -> dict[str, Any]:
    """The facts document: still a valid OpenAPI document (schemathesis reads it too)."""
    paths = {}
    for template, item in spec["paths"].items():
        kept = {
            method: strip_prose(op)
            for method, op in item.items()
            if method in OPERATION_METHODS or method == "parameters"
        }
        paths[template] = kept
    components = {
        key: strip_prose(value, names=True)
        for key, value in spec["components"].items()
        if key in ("schemas", "responses", "parameters", "securitySchemes")
    }
    return {
        "openapi": spec["openapi"],
        "info": {"title": "facts", "version": str(spec.get("info", {}).get("version", ""))},
        "paths": paths,
        "components": components,
    }


def prose_left(node: Any, where: str = "", *, names: bool = False) -> list[str]:
    """Where prose keywords remain (empty for a clean facts document)."""
    found: list[str] = []
    if isinstance(node, list):
        for index, item in enumerate(node):
            found += prose_left(item, f"{where}/{index}")
    elif isinstance(node, dict):
        for key, value in node.items():
            if not names and (key in PROSE_KEYWORDS or key.startswith("x-")):
                if not (where == "/info" and key == "title"):
                    found.append(f"{where}/{key}")
            found += prose_left(value, f"{where}/{key}", names=not names and key in NAME_MAPS)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write tests/support/spec_facts.json.")
    parser.add_argument("spec", type=Path, help="path to openai-assistants.openapi.yaml")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    args = parser.parse_args(argv)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with args.spec.open("rb") as fh:
        document = facts(yaml.load(fh, Loader=loader))
    leftover = prose_left(document)
    if leftover:
        print(f"prose left at {leftover[:5]}", file=sys.stderr)
        return 1
    text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
