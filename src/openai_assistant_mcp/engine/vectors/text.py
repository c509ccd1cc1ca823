"""From a file's bytes to chunks: extract text by file type, count tokens, cut windows."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import threading
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

# OpenAI's file_search list of text formats: decoded as UTF-8 text.
TEXT_EXTENSIONS = frozenset(
    ".c .cc .cpp .cs .css .csv .go .h .hpp .java .js .json .jsonl .kt .log .md .markdown .php "
    ".pl .py .rb .rs .rst .scala .sh .sql .swift .tex .toml .ts .tsx .jsx .txt .xml .yaml .yml "
    ".ini .cfg .conf .bat .ps1 .r .lua .dart .vue .svelte".split()
)
DOCUMENT_EXTENSIONS = frozenset({".pdf", ".docx", ".pptx", ".html", ".htm"})

AUTO_MAX_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400
MAX_FILE_TOKENS = 5_000_000  # OpenAI's limit per file in a vector store
# DOCX and PPTX are zip files: their central directory is checked against these before a
# parser inflates them, so a small crafted file cannot expand to gigabytes (a zip bomb).
# python-docx/-pptx read every part into memory and lxml needs several times an XML part's
# size, so 128 MiB already asks ~1 GiB of the child (INGEST_EXTRACTION_MEMORY_MB); at most
# 64 MiB of a file is read, so media (stored ~1:1) stay under it. Office XML deflates 5-20
# fold; past 100 fold (and 8 MiB) a file is refused as the crafted kind.
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_UNCOMPRESSED = 128 * 1024 * 1024
MAX_ZIP_RATIO = 100
ZIP_RATIO_FLOOR = 8 * 1024 * 1024  # a smaller expansion is harmless whatever its ratio


class ExtractionError(Exception):
    """A file that cannot become text; `code` is the vector store file's last_error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_plain_text(filename: str, data: bytes) -> bool:
    """Whether the file is read as UTF-8 text (no parser): by extension, or sniffed when it
    has none."""
    suffix = PurePath(filename).suffix.lower()
    return suffix in TEXT_EXTENSIONS or (not suffix and _looks_like_text(data))


def extract_text(filename: str, data: bytes) -> str:
    """The text of a file, chosen by its extension (as OpenAI's file_search did)."""
    suffix = PurePath(filename).suffix.lower()
    if is_plain_text(filename, data):
        text = _decode(data)
    elif suffix == ".pdf":
        text = _pdf(data)
    elif suffix == ".docx":
        text = _docx(data)
    elif suffix == ".pptx":
        text = _pptx(data)
    elif suffix in (".html", ".htm"):
        text = _html(data)
    else:
        kind = suffix or "files without an extension that are not text"
        raise ExtractionError("unsupported_file", f"File type {kind} is not supported.")
    text = text.replace("\x00", "")
    if not text.strip():
        raise ExtractionError("invalid_file", "The file contains no text that could be extracted.")
    return text


DOCUMENTS_EXTRA = "openai-assistant-mcp[documents]"


def preload_parsers() -> None:
    """Import every document parser now (the extraction forkserver does, once, so that each
    child it forks starts with them loaded). Without the `documents` extra there are none."""
    with contextlib.suppress(ImportError):
        import bs4  # noqa: F401
        import docx  # noqa: F401
        import pptx  # noqa: F401
        import pypdf  # noqa: F401


def documents_available() -> bool:
    """Whether the `documents` extra (the PDF, DOCX, PPTX and HTML parsers) is installed."""
    return all(importlib.util.find_spec(name) for name in ("bs4", "docx", "pptx", "pypdf"))


def _parser_missing(kind: str) -> ExtractionError:
    return ExtractionError(
        "unsupported_file",
        f"Reading {kind} files needs the documents extra, not installed on this server "
        f"(pip install '{DOCUMENTS_EXTRA}').",
    )


def _looks_like_text(data: bytes) -> bool:
    head = data[:4096]
    return b"\x00" not in head and _decodes(head)


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(data) - 3  # a character cut at the end of the sample
    return True


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExtractionError("invalid_file", "The file is not valid UTF-8 text.") from None


def _pdf(data: bytes) -> str:
    try:
        from pypdf import PdfReader
        from pypdf.errors import FileNotDecryptedError, PyPdfError
    except ImportError:
        raise _parser_missing("PDF") from None

    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except FileNotDecryptedError:
        raise ExtractionError("invalid_file", "The PDF is encrypted with a password.") from None
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise ExtractionError("invalid_file", f"The PDF could not be read ({exc}).") from None


def _check_zip(data: bytes, kind: str) -> None:
    """Refuse an Office file whose zip would inflate past the bounds (or is no zip at all).
    The sizes come from the central directory; zipfile stops inflating an entry at its
    declared size, so a zip that understates them cannot expand further."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ExtractionError("invalid_file", f"The {kind} could not be read ({exc}).") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise ExtractionError(
            "invalid_file",
            f"The {kind} holds {len(entries)} parts; at most {MAX_ZIP_ENTRIES} are read.",
        )
    inflated = sum(entry.file_size for entry in entries)
    if inflated > MAX_ZIP_UNCOMPRESSED:
        raise ExtractionError(
            "invalid_file",
            f"The {kind} would expand to {inflated} bytes; at most {MAX_ZIP_UNCOMPRESSED} "
            "are read.",
        )
    if inflated > ZIP_RATIO_FLOOR and inflated > MAX_ZIP_RATIO * len(data):
        raise ExtractionError(
            "invalid_file",
            f"The {kind} would expand {inflated // len(data)}-fold ({len(data)} bytes to "
            f"{inflated}); at most {MAX_ZIP_RATIO}-fold is read.",
        )


def _docx(data: bytes) -> str:
    try:
        import docx
    except ImportError:
        raise _parser_missing("DOCX") from None

    _check_zip(data, "DOCX")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zipfile/lxml/KeyError on bad files
        raise ExtractionError("invalid_file", f"The DOCX could not be read ({exc}).") from None
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [" | ".join(cell.text for cell in row.cells) for row in table.rows]
    return "\n".join(parts)


def _pptx(data: bytes) -> str:
    try:
        import pptx
    except ImportError:
        raise _parser_missing("PPTX") from None

    _check_zip(data, "PPTX")
    try:
        deck = pptx.Presentation(io.BytesIO(data))
    except Exception as exc:  # python-pptx raises zipfile/lxml/KeyError on bad files
        raise ExtractionError("invalid_file", f"The PPTX could not be read ({exc}).") from None
    parts = []
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
    return "\n\n".join(parts)


def _html(data: bytes) -> str:
    try:
        from bs4 import BeautifulSoup
    except ImportError:
        raise _parser_missing("HTML") from None

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript"]):
        tag.decompose()
    return soup.get_text("\n", strip=True)


# --- tokens --------------------------------------------------------------------------------

# cl100k_base as tiktoken defines it (tiktoken_ext/openai_public.py), its ranks shipped beside
# this module: tiktoken downloads them at first use, which fails with no internet. The file is
# OpenAI's (openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken), under
# tiktoken's MIT licence (cl100k_base.LICENSE), and checked against the sha256 tiktoken checks
# its download against. tests/vectors/test_token_counting.py compares the whole encoding with
# tiktoken's own.
CL100K_RANKS = PurePath(__file__).with_name("cl100k_base.tiktoken")
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
    r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
CL100K_SPECIAL_TOKENS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}

_encoding: tiktoken.Encoding | None = None
_encoding_lock = threading.Lock()


def load_ranks(path: str, sha256: str) -> dict[bytes, int]:
    """A .tiktoken ranks file (base64 token, rank per line), refused unless its sha256 is
    `sha256`. Read here rather than by tiktoken's load_tiktoken_bpe, which copies the file
    into a cache under the temporary directory on first use."""
    import base64
    import hashlib

    with open(path, "rb") as file:
        data = file.read()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{path}: not the cl100k_base ranks (sha256 mismatch)")
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def encoding() -> tiktoken.Encoding:
    """cl100k_base, OpenAI's tokenizer (see CL100K_RANKS)."""
    global _encoding
    with _encoding_lock:
        if _encoding is None:
            import tiktoken

            _encoding = tiktoken.Encoding(
                "cl100k_base",
                pat_str=CL100K_PATTERN,
                mergeable_ranks=load_ranks(str(CL100K_RANKS), CL100K_SHA256),
                special_tokens=CL100K_SPECIAL_TOKENS,
            )
        return _encoding


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


@dataclass(frozen=True)
class Chunk:
    text: str
    tokens: int


def chunk_text(text: str, max_tokens: int, overlap_tokens: int) -> list[Chunk]:
    """Windows of `max_tokens` tokens, each starting `max_tokens - overlap_tokens` after the
    previous one (OpenAI's static strategy); the last window ends at the text's end."""
    enc = encoding()
    tokens = enc.encode(text, disallowed_special=())
    if len(tokens) > MAX_FILE_TOKENS:
        raise ExtractionError(
            "invalid_file", f"The file has {len(tokens)} tokens; at most {MAX_FILE_TOKENS}."
        )
    stride = max_tokens - overlap_tokens
    chunks: list[Chunk] = []
    start = 0
    while start < len(tokens):
        window = tokens[start : start + max_tokens]
        piece = enc.decode(window)
        if piece.strip():
            chunks.append(Chunk(piece, len(window)))
        if start + max_tokens >= len(tokens):
            break
        start += stride
    return chunks
