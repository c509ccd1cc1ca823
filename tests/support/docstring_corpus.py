"""A retrieval test set from text this project did not write: docstrings of Python's standard
library. Each docstring's first sentence is a query; the rest of it is the document to find."""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass

MODULES = (
    "argparse bisect base64 calendar collections configparser contextlib copy csv datetime "
    "difflib email.utils fnmatch fractions ftplib functools glob gzip hashlib heapq hmac "
    "html imaplib inspect ipaddress itertools json logging mailbox mimetypes ntpath "
    "operator optparse os pathlib pickle pprint queue random re secrets shlex shutil smtplib "
    "socket sqlite3 statistics string struct subprocess tarfile tempfile textwrap threading "
    "timeit tokenize traceback turtle typing unittest urllib.parse urllib.request uuid "
    "warnings wave weakref xml.dom.minidom zipfile zoneinfo"
).split()
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Pair:
    name: str  # module.attribute, used as the file name
    query: str
    document: str


def docstring_pairs(limit: int, min_document_chars: int = 200, per_module: int = 6) -> list[Pair]:
    """Up to `limit` (query, document) pairs (at most `per_module` from one module), the same
    ones on every run of one Python."""
    pairs: list[Pair] = []
    seen_queries: set[str] = set()
    for module_name in MODULES:
        taken = 0
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for attribute in sorted(vars(module)):
            if attribute.startswith("_"):
                continue
            value = getattr(module, attribute)
            if not (inspect.isfunction(value) or inspect.isclass(value)):
                continue
            if getattr(value, "__module__", None) != module.__name__:
                continue  # re-exported from elsewhere
            doc = inspect.getdoc(value) or ""
            parts = _SENTENCE_END.split(" ".join(doc.split()), maxsplit=1)
            if len(parts) != 2:
                continue
            query, document = parts[0].strip(), parts[1].strip()
            if len(query) < 20 or len(document) < min_document_chars or query in seen_queries:
                continue
            if taken >= per_module:
                break
            taken += 1
            seen_queries.add(query)
            pairs.append(Pair(f"{module.__name__}.{attribute}.txt", query, document))
            if len(pairs) >= limit:
                return pairs
    return pairs
