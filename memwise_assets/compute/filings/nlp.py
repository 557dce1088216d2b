"""The spaCy pipeline that splits sentences and counts tokens, loaded once per process.

Texts go to spaCy one line (paragraph, table row, heading) at a time: a sentence never
spans two lines, docs stay small, and spaCy's tokenizer caches far more of each filing's
words than with long docs (its cache stops at a doc's first special case, such as "'s").
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from spacy.language import Language

# Longer lines (rare: unbroken plain-text tables) are cut at spaces to bound a doc's memory.
MAX_DOC_CHARS = 100_000
_SENT_SETTERS = ("sentencizer", "senter", "parser")
_GROUP_LINES = 512


@functools.lru_cache(maxsize=4)
def load_nlp(model: str | None = None) -> Language:
    """spaCy blank English + sentencizer by default, or an installed model by name; cached."""
    import spacy

    nlp = spacy.blank("en") if model is None else spacy.load(model)
    if not any(name in nlp.pipe_names for name in _SENT_SETTERS):
        nlp.add_pipe("sentencizer")
    return nlp


def _docs_text(text: str) -> Iterator[str]:
    """The non-empty lines of a text, over-long ones cut at a space."""
    for line in text.split("\n"):
        while len(line) > MAX_DOC_CHARS:
            cut = line.rfind(" ", 0, MAX_DOC_CHARS)
            cut = MAX_DOC_CHARS if cut <= 0 else cut
            yield line[:cut]
            line = line[cut + 1 :]
        if line:
            yield line


def _sentencizer_starts(orth: np.ndarray, punct: np.ndarray, first: np.ndarray, ids) -> int:
    """Sentence starts spaCy's Sentencizer would set, computed on whole token arrays.

    Its rule: a token that is neither punctuation nor a sentence-final character starts a
    sentence when a final character came since the doc start or the last such token.
    """
    final = np.isin(orth, ids)
    plain = ~(punct | final)
    seen = np.cumsum(final)
    refs = np.flatnonzero(plain | first)
    # The count of final characters strictly before each reference point.
    before = seen[refs] - final[refs]
    candidates = np.flatnonzero(plain[refs] & ~first[refs])
    k = candidates[candidates > 0]
    started = (seen[refs[k]] - before[k - 1]) > 0
    return int(first.sum() + started.sum())


def _fast_path(nlp: Language) -> np.ndarray | None:
    """Hashes of the Sentencizer's characters when the pipeline is only that Sentencizer."""
    if nlp.pipe_names != ["sentencizer"]:
        return None
    chars = nlp.get_pipe("sentencizer").punct_chars
    return np.array([nlp.vocab.strings.add(c) for c in chars], dtype=np.uint64)


def _count_fast(text: str, nlp: Language, ids: np.ndarray) -> tuple[int, int]:
    from spacy.attrs import IS_PUNCT, IS_SPACE, ORTH

    sentences = tokens = 0
    lines = _docs_text(text)
    # Groups of lines: whole-array work per group, token arrays never as big as the text.
    while group := list(itertools.islice(lines, _GROUP_LINES)):
        arrays = [nlp.tokenizer(line).to_array([ORTH, IS_PUNCT, IS_SPACE]) for line in group]
        arrays = [a for a in arrays if len(a)]
        if not arrays:
            continue
        arr = np.concatenate(arrays)
        first = np.zeros(len(arr), dtype=bool)
        first[np.cumsum([0] + [len(a) for a in arrays[:-1]])] = True
        sentences += _sentencizer_starts(arr[:, 0], arr[:, 1].astype(bool), first, ids)
        tokens += int(len(arr) - arr[:, 2].sum())
    return sentences, tokens


def _count_pipeline(text: str, nlp: Language) -> tuple[int, int]:
    from spacy.attrs import IS_SPACE, SENT_START

    sentences = tokens = 0
    for doc in nlp.pipe(_docs_text(text), batch_size=256):
        if len(doc):
            arr = doc.to_array([SENT_START, IS_SPACE])
            sentences += int((arr[:, 0].astype(np.int64) == 1).sum())
            tokens += int(len(doc) - arr[:, 1].sum())
    return sentences, tokens


def count_texts(
    texts: Sequence[str], nlp: Language, *, vectorised: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Sentence and token counts (int32) per text; sentences never cross a line break.

    With the default blank + sentencizer pipeline (and `vectorised`), only the tokenizer
    runs and the sentencizer's rule is applied to whole token arrays: same counts, faster.
    """
    ids = _fast_path(nlp) if vectorised else None
    counts = [
        _count_fast(t, nlp, ids) if ids is not None else _count_pipeline(t, nlp) for t in texts
    ]
    sentences = np.array([s for s, _ in counts], dtype=np.int32).reshape(-1)
    tokens = np.array([t for _, t in counts], dtype=np.int32).reshape(-1)
    return sentences, tokens
