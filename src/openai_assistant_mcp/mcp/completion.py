"""completion/complete: the caller's own IDs for the ID arguments of prompts and resource
templates (most recent first, filtered by the typed prefix of the ID or of the object's name),
and model names for `model`.

Threads have no list endpoint in the Assistants API, so `thread_id` completes to nothing.
The newest SCAN objects of a kind are searched (pages of 100): a bound per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import mcp_types as types

from .caller import invalid
from .tools.common import as_dict

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from openai import AsyncOpenAI

    from .caller import CallerAPI
    from .prompts import Prompts
    from .resources import Resources

VALUES = 100  # the protocol's cap on values in one answer
SCAN = 500  # objects of one kind searched at most
PAGE = 100
EMPTY = types.CompleteResult(completion=types.Completion(values=[], total=0, has_more=False))

Lister = Callable[["AsyncOpenAI"], AsyncIterator[dict[str, Any]]]


async def _assistants(api: AsyncOpenAI) -> AsyncIterator[dict[str, Any]]:
    async for item in api.beta.assistants.list(limit=PAGE, order="desc"):
        yield as_dict(item)


async def _files(api: AsyncOpenAI) -> AsyncIterator[dict[str, Any]]:
    async for item in api.files.list(limit=PAGE, order="desc"):
        yield {**as_dict(item), "name": item.filename}


async def _vector_stores(api: AsyncOpenAI) -> AsyncIterator[dict[str, Any]]:
    async for item in api.vector_stores.list(limit=PAGE, order="desc"):
        yield as_dict(item)


async def _models(api: AsyncOpenAI) -> AsyncIterator[dict[str, Any]]:
    """The provider's model list where the API has one; else (the embedded engine has no
    /models) the models the caller's assistants use, most recent first."""
    import openai

    try:
        models = [m.id for m in (await api.models.list()).data]
    except (openai.NotFoundError, openai.PermissionDeniedError):
        models = []
    if not models:
        async for assistant in _assistants(api):
            if assistant["model"] not in models:
                models.append(assistant["model"])
    for model in models:
        yield {"id": model}


LISTERS: dict[str, Lister] = {
    "assistant_id": _assistants,
    "file_id": _files,
    "vector_store_id": _vector_stores,
    "model": _models,
}


class Completions:
    """completion/complete for the server's prompts and resource templates."""

    def __init__(self, access: CallerAPI, prompts: Prompts, resources: Resources) -> None:
        self.access = access
        self._prompt_args = {
            name: {a.name for a in spec.arguments} for name, spec in prompts.prompts.items()
        }
        self._template_args = {
            t.uri_template: {t.uri_template.partition("{")[2].partition("}")[0]}
            for t in resources.templates
        }

    async def complete(
        self, ctx: ServerRequestContext[Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        ref = params.ref
        if isinstance(ref, types.PromptReference):
            arguments = self._prompt_args.get(ref.name)
            if arguments is None:
                raise invalid(f"Unknown prompt '{ref.name[:200]}'.")
        else:
            arguments = self._template_args.get(ref.uri)
            if arguments is None:
                raise invalid(f"Unknown resource template '{ref.uri[:200]}'.")
        name = params.argument.name
        if name not in arguments:
            raise invalid(f"Unknown argument '{name[:100]}'.")
        lister = LISTERS.get(name)
        if lister is None:  # free text, or a thread ID (no list endpoint)
            return EMPTY
        prefix = params.argument.value.lower()[:200]
        found: list[str] = []
        async with self.access.api(ctx, "completion/complete") as api:
            seen = 0
            async for item in lister(api):
                seen += 1
                label = str(item.get("name") or "").lower()
                if item["id"].lower().startswith(prefix) or (prefix and label.startswith(prefix)):
                    found.append(item["id"])
                if seen >= SCAN or len(found) > VALUES:
                    break
        return types.CompleteResult(
            completion=types.Completion(
                values=found[:VALUES],
                total=len(found) if len(found) <= VALUES else None,
                has_more=len(found) > VALUES,
            )
        )
