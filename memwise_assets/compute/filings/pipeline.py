"""`filing_sections`: one filing file in, one row per Item out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from memwise_assets.compute.filings.blocks import lines_bs4, lines_lxml
from memwise_assets.compute.filings.errors import FilingError
from memwise_assets.compute.filings.metadata import (
    METADATA_COLUMNS,
    FilingMetadata,
    filing_metadata,
    metadata_columns,
)
from memwise_assets.compute.filings.nlp import count_texts, load_nlp
from memwise_assets.compute.filings.pages import strip_furniture
from memwise_assets.compute.filings.plain import lines_plain
from memwise_assets.compute.filings.sections import (
    ITEMS_10K,
    ITEMS_10Q,
    SIGNATURES,
    Section,
    find_sections,
)
from memwise_assets.compute.filings.source import (
    FORMS,
    Document,
    id_for,
    normalise_form,
    open_document,
    read_bytes,
)
from memwise_assets.compute.filings.xref import cross_reference_sections

if TYPE_CHECKING:
    from spacy.language import Language

log = logging.getLogger(__name__)

COLUMNS = [
    "filing_id",
    *METADATA_COLUMNS,
    *"item title text n_chars n_sentences n_tokens source boundary".split(),
]
SOURCES = ("body", "not-applicable", "cross-reference", "incorporated-by-reference")
BOUNDARIES = ("heading", "combined", "page", "index")
# Only documents that say "cross-reference" are worth decoding for xref.py; this must
# stay looser than its own pre-check ("cross" within 9 characters before "eference").
_XREF_NEAR = 24

Engine = Literal["lxml", "bs4"]


def document_lines(doc: Document, engine: Engine = "lxml") -> list[str]:
    """The document's text lines without page furniture (HTML through `engine`)."""
    if not doc.is_html:
        lines = lines_plain(doc)
    elif engine == "lxml":
        lines = lines_lxml(doc)
    elif engine == "bs4":
        lines = lines_bs4(doc)
    else:
        raise ValueError(f"engine must be 'lxml' or 'bs4'; got {engine!r}")
    return strip_furniture(lines)


def _mentions_cross_reference(doc: Document) -> bool:
    # bytes.find runs at memory speed; a case-insensitive regex would cost every filing.
    for needle in (b"eference", b"EFERENCE"):
        at = doc.data.find(needle, doc.start, doc.end)
        while at != -1:
            if b"cross" in doc.data[max(doc.start, at - _XREF_NEAR) : at].lower():
                return True
            at = doc.data.find(needle, at + len(needle), doc.end)
    return False


def _xref_sections(doc: Document) -> list[Section] | None:
    if not doc.is_html or not _mentions_cross_reference(doc):
        return None
    try:
        found = cross_reference_sections(doc.text())
    except Exception:
        # A layout the index reader trips on still has the ordinary Item path.
        log.warning(
            "%s: cross-reference reader failed; using Item headings", doc.name, exc_info=True
        )
        return None
    if not found:
        return None
    sections = []
    for s in found:
        lines = (" ".join(line.split()) for line in s.text.splitlines())
        text = "\n".join(line for line in lines if line)
        sections.append(Section(s.item, " ".join(s.title.split()), text, s.source, s.boundary))
    return sections


def _category(values: list[str], known: tuple[str, ...]) -> pd.Categorical:
    # Fixed categories keep frames of many filings concatenable without falling to object.
    extra = sorted(set(values) - set(known))
    return pd.Categorical(values, categories=[*known, *extra])


def _frame(
    fid: str, form: str, meta: FilingMetadata, sections: list[Section], nlp: Language
) -> pd.DataFrame:
    texts = [s.text for s in sections]
    sentences, tokens = count_texts(texts, nlp)
    items = [s.item for s in sections]
    return pd.DataFrame(
        {
            "filing_id": pd.Series([fid] * len(sections), dtype=object),
            **metadata_columns(meta, len(sections)),
            "form": _category([form] * len(sections), FORMS),
            "item": _category(items, (*ITEMS_10K, *ITEMS_10Q, SIGNATURES)),
            "title": pd.Series([s.title for s in sections], dtype=object),
            "text": pd.Series(texts, dtype=object),
            "n_chars": pd.array([len(t) for t in texts], dtype="int32"),
            "n_sentences": sentences,
            "n_tokens": tokens,
            "source": _category([s.source for s in sections], SOURCES),
            "boundary": _category([s.boundary for s in sections], BOUNDARIES),
        },
        columns=COLUMNS,
    )


def filing_sections(
    path: str | Path,
    form: str | None = None,
    *,
    nlp: Language | None = None,
    engine: Engine = "lxml",
) -> pd.DataFrame:
    """One row per Item of a 10-K/10-Q filing, in document order; bad input: FilingError.

    Every row carries the filing's metadata (`metadata.py`): cik, company, period_of_report,
    filed_date, accepted_at (UTC), accession, ticker and the flag filed_date_unknown.

    form: '10-K' or '10-Q' to override detection; nlp: a loaded spaCy pipeline (default
    `load_nlp()`); engine: 'lxml' (lean event parser) or 'bs4' (BeautifulSoup DOM reference).
    """
    data = read_bytes(path)
    doc = open_document(path, data)
    chosen = normalise_form(form) if form is not None else doc.form
    if chosen not in FORMS:
        found = repr(doc.form.lstrip("?")) if doc.form else "no form type"
        given = f"form={form!r}" if form is not None else f"found {found}"
        raise FilingError("unknown-form", f"{path}: expected a 10-K or 10-Q; {given}")
    fid = id_for(path, data)
    # Header and dei facts are byte searches on the bytes in hand: no second parse.
    meta = filing_metadata(path, data, doc.start, doc.end)
    sections = _xref_sections(doc) if chosen == "10-K" else None
    if sections is None:
        # The parser streams the document back from disk: the whole file need not stay.
        del data
        doc = doc.released()
        sections = find_sections(document_lines(doc, engine), chosen)
    del doc
    if not sections:
        raise FilingError(
            "no-items", f"{path}: no Item headings (expected e.g. 'Item 1.' or 'ITEM 7A')"
        )
    log.debug("%s: %d items", fid, len(sections))
    return _frame(fid, chosen, meta, sections, nlp if nlp is not None else load_nlp())
