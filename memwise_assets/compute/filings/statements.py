"""What an Item's text is: its own body, "not applicable", or a pointer incorporated by reference.

Ordinary 10-Ks often answer an Item with one statement instead of text: "The information
required by this Item will be included in the 2025 Proxy Statement, and is incorporated
herein by reference." Such an Item is `incorporated-by-reference` when every sentence of
its (short) text points elsewhere and one of them incorporates by reference; a single
sentence of its own ("The Company's stock trades on the NYSE.") keeps it `body`.
"""

from __future__ import annotations

import re

BODY = "body"
NOT_APPLICABLE = "not-applicable"
INCORPORATED = "incorporated-by-reference"

# "None." alone says nothing applies; "None of our directors ..." is an answer.
_NOTHING = re.compile(r"^\W*(?:none|n/?a|\[?reserved\]?|omitted|not applicable)\W*$", re.I)
_NOT_APPLICABLE = re.compile(r"^\W*(?:not applicable|inapplicable|omitted)\b", re.I)
_BY_REFERENCE = re.compile(
    r"\bincorporated\b[^.]{0,80}?\bby\s+reference\b|\bincorporated\s+herein\b", re.I
)
# Words of a sentence that sends the reader to another document or part of the filing.
_POINTS = re.compile(
    r"\b(?:incorporated|by reference|proxy statement|annual report|information statement"
    r"|(?:included|contained|set forth|appears?|found|presented|be) (?:in|under|on|at))\b",
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z(\"“])")
# Longer answers carry text of their own, even when they also incorporate something.
_MAX_STATEMENT_CHARS = 2000
# A short line without a full stop inside an Item is a subheading, not a sentence.
_SUBHEADING_CHARS = 60
_NAMED_ITEMS = re.compile(r"\bItems\s+(\d{1,2}[A-C]?(?:\s*(?:,|and|&)\s*\d{1,2}[A-C]?)+)")
_ID = re.compile(r"\d{1,2}[A-C]?")


def item_source(title: str, text: str) -> str:
    """BODY, NOT_APPLICABLE or INCORPORATED for an Item with this title and text."""
    if _NOTHING.match(text or title) or (len(text) < 120 and _NOT_APPLICABLE.match(text)):
        return NOT_APPLICABLE
    if is_incorporated(text):
        return INCORPORATED
    return BODY


def is_incorporated(text: str) -> bool:
    """Whether `text` only points elsewhere and incorporates it by reference."""
    if not text or len(text) > _MAX_STATEMENT_CHARS or not _BY_REFERENCE.search(text):
        return False
    sentences = [
        sentence
        for line in text.splitlines()
        if len(line) >= _SUBHEADING_CHARS or line.rstrip().endswith(".")
        for sentence in _SENTENCE_END.split(line)
        if sentence.strip()
    ]
    return bool(sentences) and all(_POINTS.search(s) for s in sentences)


def items_named_together(text: str) -> set[str]:
    """Items a joint statement names: "Items 10, 11, 12 and 13 are incorporated ..."."""
    named: set[str] = set()
    for match in _NAMED_ITEMS.finditer(text):
        named.update(_ID.findall(match.group(1)))
    return named
