"""Search options through the official SDK on SQLite and PostgreSQL: `ranking_options.ranker`
(`none` scores by cosine similarity alone, the fusing rankers by normalised RRF),
`rewrite_query` (the rewritten query is what is searched and what the page reports), and the
keyword ranking's restriction to the searched store and to its informative terms."""

from __future__ import annotations

import numpy as np
import openai
import pytest
from fastapi import FastAPI

from openai_assistant_mcp.engine.services import vector_stores
from openai_assistant_mcp.engine.vectors import fusion
from openai_assistant_mcp.engine.vectors import search as search_module
from openai_assistant_mcp.engine.vectors.embedders import Embedder, choose_mode
from openai_assistant_mcp.engine.vectors.search import choose_terms, rewrite
from tests.engine.helpers import tenant_of
from tests.support.engine import engine_state

CATS = "Cats are small domesticated carnivores. A kitten purrs and chases mice at night.\n"
MARKETS = "The central bank raised interest rates; bond yields and stock indexes fell.\n"
RECIPE = "Knead the dough for ten minutes, let it rise, then bake the bread at 220 degrees.\n"


async def store_of(client: openai.AsyncOpenAI, files: dict[str, str]) -> str:
    """A vector store of the texts (name: text), every file indexed."""
    store = await client.vector_stores.create(name="options")
    batch = await client.vector_stores.file_batches.upload_and_poll(
        store.id,
        files=[(name, text.encode()) for name, text in files.items()],
        poll_interval_ms=20,  # the SDK's default: a second
    )
    assert batch.file_counts.completed == len(files), batch.file_counts
    return store.id


async def test_rankers(tenant_client: openai.AsyncOpenAI, engine_app: FastAPI) -> None:
    client = tenant_client
    store_id = await store_of(
        client, {"cats.txt": CATS, "markets.txt": MARKETS, "bread.txt": RECIPE}
    )
    query = "felines hunting rodents"  # no word of it is in any file: vectors alone find cats
    pages = {
        ranker: await client.vector_stores.search(
            store_id, query=query, ranking_options={"ranker": ranker}
        )
        for ranker in ("auto", "default-2024-11-15", "none")
    }
    fused = [(r.file_id, r.score) for r in pages["auto"].data]
    assert fused == [(r.file_id, r.score) for r in pages["default-2024-11-15"].data]
    # Fused: first in the vector ranking, absent from the (empty) keyword one: its weight
    # over both weights (each over RRF_K + 1).
    assert pages["auto"].data[0].filename == "cats.txt"
    share = fusion.VECTOR_WEIGHT / (fusion.VECTOR_WEIGHT + fusion.KEYWORD_WEIGHT)
    assert pages["auto"].data[0].score == pytest.approx(share)

    # `none`: the vector ranking alone, each score the chunk's cosine similarity to the query.
    plain = pages["none"].data
    assert [r.filename for r in plain][:1] == ["cats.txt"]
    settings = engine_state(engine_app).settings
    embedder = Embedder(choose_mode(settings), settings)
    query_vector = await embedder.query(query, None)
    for result in plain:
        passage = await embedder.passages([result.content[0].text], None)
        expected = float(np.clip(passage[0] @ query_vector, 0.0, 1.0))
        assert result.score == pytest.approx(expected, abs=1e-3)
    assert [r.score for r in plain] == sorted((r.score for r in plain), reverse=True)
    assert plain[0].score != pytest.approx(share, abs=1e-3)


async def test_rewrite_query(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    store_id = await store_of(client, {"bread.txt": RECIPE, "markets.txt": MARKETS})
    question = "What is the right way to knead the dough, please?"
    plain = await client.vector_stores.search(store_id, query=question)
    assert plain.search_query == [question]
    rewritten = await client.vector_stores.search(store_id, query=question, rewrite_query=True)
    assert rewritten.search_query == ["right way knead dough"]
    direct = await client.vector_stores.search(store_id, query="right way knead dough")
    assert [(r.file_id, r.score) for r in rewritten.data] == [
        (r.file_id, r.score) for r in direct.data
    ]
    assert rewritten.data[0].filename == "bread.txt"
    several = await client.vector_stores.search(
        store_id, query=["Who raised interest rates?", "what is it?"], rewrite_query=True
    )
    # Nothing but question words and stopwords: the query is kept as it was.
    assert several.search_query == ["raised interest rates", "what is it?"]


def test_rewrite_and_term_choice_rules() -> None:
    assert rewrite("How do I bake BREAD at 220 degrees?") == "bake bread 220 degrees"
    frequencies = {"rare": 0.001, "mid": 0.02, "often": 0.3, "everywhere": 0.9}
    # 100k chunks, a budget of 10,000: "often" (30,000 expected matches) only scores.
    assert choose_terms(frequencies, 100_000) == (["rare", "mid"], ["often"])
    # 5k chunks, a budget of 2,000: "rare" (5) and "mid" (100) fit, "often" (1,500) too.
    assert choose_terms(frequencies, 5_000) == (["rare", "mid", "often"], [])
    # 1M chunks, a budget of 100,000: "rare" (1,000) and "mid" (20,000) fit, "often" does not.
    assert choose_terms({"rare": 0.001, "mid": 0.02, "often": 0.3}, 1_000_000) == (
        ["rare", "mid"],
        ["often"],
    )
    assert choose_terms({"rare": 0.001, "mid": 0.2}, 10_000) == (["rare"], ["mid"])
    assert choose_terms({"everywhere": 0.9, "also": 0.8}, 10) == (["also"], [])
    # PostgreSQL's share (5%): at 100k chunks a budget of 5,000: "rare" (1,000) fits, "mid"
    # (5,000 more) only scores, where SQLite's 10% (10,000) takes both.
    two = {"rare": 0.01, "mid": 0.05}
    assert choose_terms(two, 100_000, 0.05) == (["rare"], ["mid"])
    assert choose_terms(two, 100_000) == (["rare", "mid"], [])


async def test_keyword_ranking_stays_in_its_store_and_scores_common_terms(
    tenant_client: openai.AsyncOpenAI, engine_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = tenant_client
    filler = {f"filler{i}.txt": f"alpha{i} beta{i} gamma{i} delta{i}" for i in range(12)}
    common = {f"common{i}.txt": f"widget epsilon{i} zeta{i} eta{i}" for i in range(4)}
    files = {
        # By the rare word alone rare.txt ranks first; counting the common one, both.txt.
        "rare.txt": "zanzibar zanzibar iota kappa",
        "both.txt": "zanzibar widget widget mu",
        **common,
        **filler,
    }
    store_id = await store_of(client, files)
    other_id = await store_of(client, {"elsewhere.txt": "zanzibar widget zanzibar widget"})
    state, tenant = engine_state(engine_app), tenant_of(engine_app, client.api_key)
    # A budget of one chunk: "zanzibar" (2 of 18 chunks) is required, "widget" (5 of 18) only
    # scores what "zanzibar" finds.
    monkeypatch.setattr(search_module, "KEYWORD_BUDGET", 1)
    monkeypatch.setattr(search_module, "KEYWORD_SHARE", {"sqlite": 0.0, "postgresql": 0.0})
    found = await vector_stores.search(
        state, tenant, [store_id], "widget zanzibar", keyword=True, vector=False
    )
    assert found[0]["filename"] == "both.txt"  # both words: first
    if not state.db.is_postgres:  # PostgreSQL's frequencies come from ANALYZE statistics
        # The chunks with "widget" alone were never scored.
        assert [r["filename"] for r in found] == ["both.txt", "rare.txt"]
    assert "elsewhere.txt" not in {r["filename"] for r in found}
    theirs = await vector_stores.search(
        state, tenant, [other_id], "zanzibar", keyword=True, vector=False
    )
    assert [r["filename"] for r in theirs] == ["elsewhere.txt"]
