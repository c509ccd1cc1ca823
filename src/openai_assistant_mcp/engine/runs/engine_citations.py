"""Citations the engine writes (`FILE_SEARCH_ENGINE_CITATIONS`, docs/file-search.md): small
models answer from file_search results but rarely copy a source marker, so the engine puts the
marker of the result a sentence is supported by at the end of that sentence, as the model
should have. A sentence is supported by a result when it shares words with it that the
question did not bring (the answer says something the result says) and enough of its words
are the result's; a sentence that shares nothing new is never cited. Markers the model wrote
stay as they are, and a sentence it cited itself (a marker in it or right after it) gets none.

The answer streams through `Citer` one sentence behind: a sentence is published when the next
one starts, with its marker inserted, so the deltas add up to the final text."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

# Words that say nothing of a result's content (the answer's own framing included).
_STOPWORDS = frozenset(
    """a an the and or but if then than so of to in on at by for from with without about as
    into onto over under is are was were be been being am do does did has have had having it
    its it's this that these those there here what which who whom whose when where why how
    i you he she we they me him her us them my your his our their not no yes can could will
    would shall should may might must also just only very more most some any all each both
    such other same own too up down out off again further once according file files document
    documents source sources based information mentioned says said states stated answer
    question""".split()
)
_WORD = re.compile(r"\w+")
# Where a sentence ends: . ! ? (a closing quote or bracket after them) before white space, or
# a line break.
_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)|\n")
_MARKER_START = "【"
# How much of a sentence's weight the result must hold (the shared words new to the question
# must be at least one).
MIN_COVERAGE = 1 / 3
# Distinct words kept of each result (what a source is compared with; bounded in the run's
# execution document).
MAX_TERMS = 2000


def _stem(word: str) -> str:
    """A plural's singular, roughly ("ships" -> "ship"): enough to match an answer's words."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The distinct content words of `text`, lower case, in order of first use."""
    found: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        found.setdefault(_stem(word), None)
        if len(found) >= MAX_TERMS:
            break
    return list(found)


def supporting(
    sentence: str, sources: list[dict[str, Any]], question: frozenset[str]
) -> dict[str, Any] | None:
    """The source (`{"marker", "file_id", "terms"}`) that best supports `sentence`, or None:
    it must share a word with the sentence that the question did not have and that not every
    source has (a word of every result tells none of them apart), and hold at least
    MIN_COVERAGE of the sentence's words, each weighted by how rare it is among the sources."""
    said = set(terms(sentence))
    if not said or not sources:
        return None
    held = [set(source.get("terms") or ()) for source in sources]
    count = len(held)
    present = {word: sum(1 for words in held if word in words) for word in said}
    # With one source every word is in all of them, and still tells it from no source.
    common = {word for word, n in present.items() if n == count} if count > 1 else set()

    def weight(word: str) -> float:
        return math.log(1 + count / present[word]) if present[word] else math.log(1 + count)

    weights = {word: weight(word) for word in said}
    total = sum(weights.values())
    best: tuple[float, int] | None = None
    for index, words in enumerate(held):
        shared = said & words
        if not shared - question - common:
            continue
        coverage = sum(weights[word] for word in shared) / total
        if coverage >= MIN_COVERAGE and (best is None or coverage > best[0]):
            best = (coverage, index)
    return None if best is None else sources[best[1]]


def _cited(sentence: str, marker: str) -> str:
    """`sentence` with `marker` before its closing punctuation ("ships on 14 March【…】.")."""
    body = sentence.rstrip()
    space = sentence[len(body) :]
    stripped = body.rstrip(".!?:;,")
    return stripped + marker + body[len(stripped) :] + space


@dataclass
class Citer:
    """An answer streamed one sentence behind, each supported sentence cited (see the module
    docstring); `sources` are the run's file_search results so far."""

    sources: list[dict[str, Any]]
    question: frozenset[str]
    pending: str = ""
    in_code: bool = False  # inside a ``` fence: code is never cited
    cited: list[str] = field(default_factory=list)  # the markers inserted, in order

    def feed(self, text: str) -> str:
        """The text to publish now, `text` taken in: the sentences now known to be whole."""
        self.pending += text
        out: list[str] = []
        while True:
            sentence = self._whole_sentence()
            if sentence is None:
                return "".join(out)
            out.append(self._cite(sentence))

    def flush(self) -> str:
        """The rest (the answer is over): its last sentence, cited if supported."""
        rest, self.pending = self.pending, ""
        return self._cite(rest) if rest else ""

    def _whole_sentence(self) -> str | None:
        """The first sentence of `pending` with the white space after it, once the text after
        that space has started (a marker there is the model's citation of it)."""
        for end in _END.finditer(self.pending):
            after = end.end()
            while after < len(self.pending) and self.pending[after].isspace():
                after += 1
            if after == len(self.pending):
                return None  # what follows is not known yet
            if self.pending.startswith(_MARKER_START, after):
                close = self.pending.find("】", after)
                if close == -1:
                    return None
                after = close + 1  # the model's marker: part of this sentence
            sentence, self.pending = self.pending[:after], self.pending[after:]
            return sentence
        return None

    def _cite(self, sentence: str) -> str:
        fences = sentence.count("```")
        in_code, self.in_code = self.in_code, self.in_code ^ (fences % 2 == 1)
        if in_code or fences or _MARKER_START in sentence:
            return sentence
        source = supporting(sentence, self.sources, self.question)
        if source is None:
            return sentence
        self.cited.append(source["marker"])
        return _cited(sentence, source["marker"])
