"""tiktoken's own cl100k_base, offline: a reference for the engine's token counting."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

import tiktoken
from tiktoken_ext import openai_public

from openai_assistant_mcp.engine.vectors.text import CL100K_RANKS

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def tiktoken_cl100k() -> tiktoken.Encoding:
    """cl100k_base exactly as tiktoken defines it (tiktoken_ext.openai_public), its download
    served from tiktoken's own cache (TIKTOKEN_CACHE_DIR, keyed by the URL's sha1) holding the
    ranks the package ships: tiktoken checks them against the hash it records for the URL."""
    with tempfile.TemporaryDirectory() as cache:
        shutil.copy(
            CL100K_RANKS, os.path.join(cache, hashlib.sha1(CL100K_URL.encode()).hexdigest())
        )
        before = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = cache
        try:
            definition = openai_public.cl100k_base()
        finally:
            if before is None:
                del os.environ["TIKTOKEN_CACHE_DIR"]
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = before
    return tiktoken.Encoding(**definition)
