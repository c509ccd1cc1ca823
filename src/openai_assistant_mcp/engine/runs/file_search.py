"""file_search, a built-in tool: the model searches the run's vector stores (the thread's and
the assistant's `tool_resources`) and reads the best chunks, each under a source marker it can
cite (`【3:0†handbook.pdf】`); the run step records the results as OpenAI's did."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..errors import APIError
from ..services import thread_files, vector_stores
from ..services.common import now
from ..store import file_store, repository
from ..store import vector_repository as repo
from ..vectors.text import encoding
from .builtin import BuiltinContext, BuiltinResult
from .engine_citations import terms
from .prompt import CHARS_PER_TOKEN

FUNCTION_NAME = "file_search"
DEFAULT_MAX_RESULTS = 20
DEFAULT_RANKER = "default_2024_08_21"
MAX_QUERIES = 5
MAX_QUERY_CHARS = 1000
# Seconds a search waits for files still being ingested into the stores it searches.
INGESTION_WAIT = 30.0
# The results the model reads are cut to this many characters (lowest scores dropped first),
# and to half of `max_prompt_tokens` when the run sets it: results never crowd out the thread.
MAX_OUTPUT_CHARS = 64_000
# With a known context window (ctx.output_tokens): a result per this many tokens of room at
# most, each counted with its marker; a result cut shorter than MIN_RESULT_TOKENS is left out.
TOKENS_PER_RESULT = 400
MARKER_TOKENS = 20
MIN_RESULT_TOKENS = 50
CONTENT_INCLUDE = "step_details.tool_calls[*].file_search.results[*].content"

_DESCRIPTION = (
    "Search the user's files. Give one or more short queries; returns matching excerpts, each "
    "under a source marker like 【0:1†name】. Cite a source by copying its marker exactly."
)


def newest_question(thread_messages: list[dict[str, Any]]) -> str:
    """The text of the thread's newest user message ("" when there is none)."""
    for message in reversed(thread_messages):
        if message.get("role") == "user":
            return " ".join(
                part["text"]["value"]
                for part in message.get("content") or []
                if part.get("type") == "text"
            ).strip()
    return ""


def marker(call_index: int, result_index: int, filename: str) -> str:
    return f"【{call_index}:{result_index}†{filename}】"


class FileSearch:
    type = "file_search"
    function_name = FUNCTION_NAME

    def function(self, tool: dict[str, Any]) -> dict[str, Any]:
        queries = {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": MAX_QUERIES,
            "description": "Search queries (several phrasings find more).",
        }
        return {
            "type": "function",
            "function": {
                "name": FUNCTION_NAME,
                "description": _DESCRIPTION,
                "parameters": {
                    "type": "object",
                    "properties": {"queries": queries},
                    "required": ["queries"],
                },
            },
        }

    async def unavailable(self, ctx: BuiltinContext) -> str | None:
        return None  # keyword search needs nothing; embeddings degrade to it when unavailable

    async def forced_arguments(self, ctx: BuiltinContext) -> str | None:
        """The search the run makes when it forces file_search and the model did not call it:
        the newest user message's text as the query."""
        text = newest_question(ctx.thread_messages)
        return json.dumps({"queries": [text[:MAX_QUERY_CHARS]]}) if text else None

    async def call(self, ctx: BuiltinContext, arguments: str) -> BuiltinResult:
        options = _tool_options(ctx.run)
        ranking = {
            "ranker": options.get("ranking_options", {}).get("ranker") or DEFAULT_RANKER,
            "score_threshold": float(
                options.get("ranking_options", {}).get("score_threshold") or 0.0
            ),
        }
        if ranking["ranker"] == "auto":
            ranking["ranker"] = DEFAULT_RANKER

        def result(results: list[dict[str, Any]], text: str, **extra: Any) -> BuiltinResult:
            call: dict[str, Any] = {
                "type": "file_search",
                "file_search": {"ranking_options": ranking, **extra},
            }
            call["file_search"]["results"] = results
            return BuiltinResult(call, text)

        queries = _queries(arguments)
        if isinstance(queries, str):
            return result([], f"file_search error: {queries}")
        store_ids = list(
            (ctx.tool_resources.get("file_search") or {}).get("vector_store_ids") or []
        )
        thread_store = await _attachments_store(ctx)
        if thread_store is not None and thread_store not in store_ids:
            store_ids.append(thread_store)
        if not store_ids:
            return result([], "No files to search: no vector store is attached to this run.")
        max_results = int(options.get("max_num_results") or DEFAULT_MAX_RESULTS)
        if ctx.output_tokens is not None:  # the model's window holds only so many
            max_results = min(max_results, max(1, ctx.output_tokens // TOKENS_PER_RESULT))

        async def search() -> list[dict[str, Any]] | APIError:
            try:
                return await vector_stores.search(
                    ctx.services,
                    ctx.tenant,
                    store_ids,
                    queries,
                    max_num_results=max_results,
                    ranking_options=ranking,
                    api_key=ctx.api_key,
                )
            except APIError as exc:  # a store deleted or expired since the run began
                return exc

        # The ingestion check runs beside the search (a database round trip off the turn's
        # path). Files still being ingested are waited for (bounded) and the search is made
        # again; the model is told which files could not be searched (failed, still ingesting).
        state = ctx.services
        counts, found = await asyncio.gather(
            thread_files.ingestion_counts(state, store_ids), search()
        )
        if thread_files.ingesting(counts):
            counts = await thread_files.wait_ingested(state, store_ids, INGESTION_WAIT)
            found = await search()
        unsearchable = await thread_files.unsearchable_files(state, ctx.tenant, store_ids, counts)
        if isinstance(found, APIError):
            return result([], f"file_search error: {found.message}" + _not_searched(unsearchable))
        call_index = ctx.call_index
        kept = _within_budget(found, _budget(ctx.run))
        if ctx.output_tokens is not None:
            kept = _within_tokens(kept, ctx.output_tokens)
        results, sources, blocks = [], [], []
        for index, hit in enumerate(kept):
            text = "\n".join(part["text"] for part in hit.get("content") or [])
            name = hit["filename"]
            mark = marker(call_index, index, name)
            results.append(
                {
                    "file_id": hit["file_id"],
                    "file_name": name,
                    "score": min(1.0, max(0.0, float(hit["score"]))),
                    "content": [{"type": "text", "text": text}],
                }
            )
            sources.append(
                {"marker": mark, "file_id": hit["file_id"], "filename": name, "terms": terms(text)}
            )
            blocks.append(f"{mark}\n{text}")
        if not blocks:
            output = "No results found for: " + "; ".join(queries)
        else:
            output = "\n\n".join(blocks)
        done = result(results, output + _not_searched(unsearchable))
        done.sources = sources
        return done


async def _attachments_store(ctx: BuiltinContext) -> str | None:
    """The thread's vector store when its messages attached files for file_search. Messages
    add their files when they are created; this catches files of threads made before that
    (or a store emptied since): one read when nothing is missing."""
    state, tenant, thread_id = ctx.services, ctx.tenant, ctx.run["thread_id"]
    wanted = thread_files.search_attachments(ctx.thread_messages)  # as the turn read them
    if not wanted:
        return None
    async with state.db.read() as conn:
        thread = await repository.get_object(conn, repository.THREADS, tenant, thread_id)
        if thread is None:
            return None
        held = thread_files.thread_store_id(thread)
        present = await repo.existing_file_ids(conn, held, wanted) if held else set()
        missing = [file_id for file_id in wanted if file_id not in present]
        if missing:  # a file deleted since it was attached has nothing to search
            missing = list(await file_store.existing_file_ids(conn, tenant, missing, now()))
    if not missing:
        return held
    async with state.db.write() as conn:  # one active run per thread: no one races this
        thread = await repository.get_for_update(conn, repository.THREADS, tenant, thread_id)
        if thread is None:
            return None
        try:
            changed, queued = await thread_files.attach_to_thread_in(
                conn, state, tenant, thread, missing
            )
        except APIError:  # the thread's store is full: search what it holds
            return held
        if changed is not thread:
            await repository.replace_body(conn, repository.THREADS, thread_id, changed)
    thread_files.queue_ingestion(state, queued, ctx.api_key)
    return thread_files.thread_store_id(changed)


def _not_searched(files: list[dict[str, Any]]) -> str:
    """What the model is told of files it could not search (nothing when there are none)."""
    if not files:
        return ""
    lines = []
    for file in files:
        if file["status"] == "in_progress":
            lines.append(f"- {file['filename']}: still being processed")
        else:
            error = file.get("last_error") or {}
            reason = error.get("message") or "processing failed"
            lines.append(f"- {file['filename']}: {reason}")
    return "\n\nThese files could not be searched:\n" + "\n".join(lines)


def _tool_options(run: dict[str, Any]) -> dict[str, Any]:
    """The run's file_search tool settings (the run's `tools` override the assistant's)."""
    for tool in run.get("tools") or []:
        if tool.get("type") == "file_search":
            return dict(tool.get("file_search") or {})
    return {}


def _queries(arguments: str) -> list[str] | str:
    """The queries the model asked for, or why the arguments are unusable (told to it)."""
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return 'the arguments are not JSON; send {"queries": ["..."]}.'
    if not isinstance(parsed, dict):
        return 'send an object: {"queries": ["..."]}.'
    given = parsed.get("queries", parsed.get("query"))
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, list) or not all(isinstance(q, str) for q in given):
        return "'queries' must be a list of strings."
    queries = [q.strip()[:MAX_QUERY_CHARS] for q in given if q.strip()][:MAX_QUERIES]
    return queries or "give at least one non-empty query."


def _budget(run: dict[str, Any]) -> int:
    budget = MAX_OUTPUT_CHARS
    if run.get("max_prompt_tokens"):
        budget = min(budget, int(run["max_prompt_tokens"]) * CHARS_PER_TOKEN // 2)
    return budget


def _within_budget(found: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """The best results whose text fits `budget` (results come best first: the lowest
    scores go first)."""
    kept: list[dict[str, Any]] = []
    used = 0
    for hit in found:
        size = sum(len(part.get("text", "")) for part in hit.get("content") or []) + 40
        if kept and used + size > budget:
            break
        kept.append(hit)
        used += size
    return kept


def _within_tokens(found: list[dict[str, Any]], room: int) -> list[dict[str, Any]]:
    """The best results that fit `room` tokens of the model's context window, the last one
    cut short to fit (its marker and a few tokens of framing counted)."""
    kept: list[dict[str, Any]] = []
    for hit in found:
        room -= MARKER_TOKENS
        text = "\n".join(part.get("text", "") for part in hit.get("content") or [])
        tokens = encoding().encode(text, disallowed_special=())
        if room <= MIN_RESULT_TOKENS and kept:
            break
        if len(tokens) > room:
            cut = encoding().decode(tokens[: max(0, room)])
            kept.append({**hit, "content": [{"type": "text", "text": cut}]})
            break
        kept.append(hit)
        room -= len(tokens)
    return kept
