"""Token counting (engine/vectors/text.py): cl100k_base built from the ranks the package ships
is tiktoken's own cl100k_base, and a ranks file that is not the one recorded is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from openai_assistant_mcp.engine.vectors import text
from tests.support.tokens import tiktoken_cl100k

SAMPLES = [
    "hello world",
    "Hello, wörld! 123456 — naïve café ☕ 東京 👩‍💻",
    "def f(x):\n    return x ** 2  # squares\n\n\n",
    "<|endoftext|> is text here, not a special token",
    "   leading and trailing spaces   \t\r\n",
]


def test_the_shipped_encoding_is_tiktokens_cl100k_base() -> None:
    reference = tiktoken_cl100k()
    ours = text.encoding()
    assert ours.name == reference.name == "cl100k_base"
    assert ours._pat_str == reference._pat_str
    assert ours._special_tokens == reference._special_tokens
    assert ours._mergeable_ranks == reference._mergeable_ranks
    assert ours.n_vocab == reference.n_vocab == 100277
    for sample in SAMPLES:
        expected = reference.encode(sample, disallowed_special=())
        assert ours.encode(sample, disallowed_special=()) == expected
        assert text.count_tokens(sample) == len(expected)
    assert ours.encode("hello world") == [15339, 1917]


def test_a_ranks_file_that_is_not_cl100k_is_refused(tmp_path: Path) -> None:
    altered = tmp_path / "cl100k_base.tiktoken"
    data = Path(text.CL100K_RANKS).read_bytes()
    altered.write_bytes(data.replace(b" 0\n", b" 1\n", 1))
    with pytest.raises(ValueError, match="sha256 mismatch"):
        text.load_ranks(str(altered), text.CL100K_SHA256)
    assert len(text.load_ranks(str(text.CL100K_RANKS), text.CL100K_SHA256)) == 100256
