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


def _word_starts(space: np.ndarray, boundary: np.ndarray) -> tuple[int, int]:
    """(sentences, tokens): a word starts a sentence after a boundary or a line break."""
    words = np.flatnonzero(~space)
    if words.size == 0:
        return 0, 0
    # Whitespace tokens are the line breaks: runs of spaces were collapsed in the lines.
    marks = np.cumsum(boundary | space)
    before = np.concatenate(([-1], marks[words[:-1]]))
    starts = (marks[words] - before) > 0
    starts[0] = True
    return int(starts.sum()), int(words.size)


def _count(doc: Any) -> tuple[int, int]:
    """(sentences, tokens) of a doc whose sentences the pipeline has set."""
    from spacy.attrs import IS_SPACE, SENT_START

    if len(doc) == 0:
        return 0, 0
    arr = doc.to_array([IS_SPACE, SENT_START])
    return _word_starts(arr[:, 0].astype(bool), arr[:, 1].astype(np.int64) == 1)


def _count_sentencizer(doc: Any, punct_ids: np.ndarray) -> tuple[int, int]:
    """`_count` with spaCy's Sentencizer rule applied to the token arrays, not per token.

    The rule: a token that is neither punctuation nor a sentence-final character starts a
    sentence when such a character came since the last token of that kind.
    """
    from spacy.attrs import IS_PUNCT, IS_SPACE, ORTH

    if len(doc) == 0:
        return 0, 0
    arr = doc.to_array([ORTH, IS_PUNCT, IS_SPACE])
    final = np.isin(arr[:, 0], punct_ids)
    plain = ~(arr[:, 1].astype(bool) | final)
    seen = np.cumsum(final)
    plain_at = np.flatnonzero(plain)
    before = np.concatenate(([0], seen[plain_at[:-1]]))
    boundary = np.zeros(len(doc), dtype=bool)
    boundary[plain_at[(seen[plain_at] - before) > 0]] = True
    return _word_starts(arr[:, 2].astype(bool), boundary)


def _fast_path(nlp: Language) -> np.ndarray | None:
    """Hashes of the Sentencizer's characters when the pipeline is only that Sentencizer."""
    if nlp.pipe_names != ["sentencizer"]:
        return None
    chars = nlp.get_pipe("sentencizer").punct_chars
    return np.array([nlp.vocab.strings.add(c) for c in chars], dtype=np.uint64)


def count_texts(
    texts: Sequence[str], nlp: Language, *, vectorised: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Sentence and token counts (int32) per text, all texts' chunks in one stream.

    With the default blank + sentencizer pipeline (and `vectorised`), only the tokenizer
    runs and the sentencizer's rule is applied to whole token arrays: same counts, faster.
    """
    # A generator: chunks are cut as spaCy asks for them, never all held at once.
    pieces = ((piece, k) for k, text in enumerate(texts) for piece in _chunks(text))
    sentences = np.zeros(len(texts), dtype=np.int64)
    tokens = np.zeros(len(texts), dtype=np.int64)
    punct_ids = _fast_path(nlp) if vectorised else None
    if punct_ids is not None:
        tokenize = nlp.tokenizer
        counted = ((_count_sentencizer(tokenize(p), punct_ids), k) for p, k in pieces)
    else:
        counted = ((_count(d), k) for d, k in nlp.pipe(pieces, as_tuples=True, batch_size=32))
    for (s, t), owner in counted:
        sentences[owner] += s
        tokens[owner] += t
    return sentences.astype(np.int32), tokens.astype(np.int32)
