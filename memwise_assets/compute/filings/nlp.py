"""The spaCy pipeline that splits sentences and counts tokens, loaded once per process."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from spacy.language import Language

# Small docs keep spaCy's per-token arrays (about 100 bytes a token) far below the file size.
CHUNK_CHARS = 20_000
_SENT_SETTERS = ("sentencizer", "senter", "parser")


@functools.lru_cache(maxsize=4)
def load_nlp(model: str | None = None) -> Language:
    """spaCy blank English + sentencizer by default, or an installed model by name; cached."""
    import spacy

    nlp = spacy.blank("en") if model is None else spacy.load(model)
    if not any(name in nlp.pipe_names for name in _SENT_SETTERS):
        nlp.add_pipe("sentencizer")
    return nlp


def _chunks(text: str) -> Iterator[str]:
    """Pieces of at most ~CHUNK_CHARS cut at line ends (a line end is a sentence end anyway)."""
    start, size = 0, len(text)
    while start < size:
        stop = start + CHUNK_CHARS
        if stop >= size:
            yield text[start:]
            return
        cut = text.rfind("\n", start, stop)
        if cut <= start:
            # One huge line: cut at a space rather than hand spaCy an unbounded doc.
            cut = text.rfind(" ", start, stop)
            cut = stop if cut <= start else cut
        yield text[start:cut]
        start = cut + 1


def _count(doc: Any) -> tuple[int, int]:
    """(sentences, tokens) of one doc; every line break also ends a sentence."""
    from spacy.attrs import IS_SPACE, SENT_START

    if len(doc) == 0:
        return 0, 0
    arr = doc.to_array([IS_SPACE, SENT_START])
    space = arr[:, 0].astype(bool)
    # Whitespace tokens are the line breaks: runs of spaces were collapsed in the lines.
    boundary = (arr[:, 1].astype(np.int64) == 1) | space
    words = np.flatnonzero(~space)
    if words.size == 0:
        return 0, 0
    marks = np.cumsum(boundary)
    before = np.concatenate(([-1], marks[words[:-1]]))
    starts = (marks[words] - before) > 0
    starts[0] = True
    return int(starts.sum()), int(words.size)


def count_texts(texts: Sequence[str], nlp: Language) -> tuple[np.ndarray, np.ndarray]:
    """Sentence and token counts (int32) per text, with all texts' chunks in one nlp.pipe."""
    # A generator: chunks are cut as spaCy asks for them, never all held at once.
    pieces = ((piece, k) for k, text in enumerate(texts) for piece in _chunks(text))
    sentences = np.zeros(len(texts), dtype=np.int64)
    tokens = np.zeros(len(texts), dtype=np.int64)
    for doc, owner in nlp.pipe(pieces, as_tuples=True, batch_size=32):
        s, t = _count(doc)
        sentences[owner] += s
        tokens[owner] += t
    return sentences.astype(np.int32), tokens.astype(np.int32)
