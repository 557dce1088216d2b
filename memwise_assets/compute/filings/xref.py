"""Sections of 10-Ks laid out as annual reports with a "Form 10-K Cross Reference Index".

Owned by the cross-reference work (issue 9); `filing_sections` calls it first and keeps
its ordinary Item-by-Item path when it returns None.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class XrefSection:
    """One Item assembled from the cross-reference index."""

    item: str
    title: str
    text: str
    source: str  # body | cross-reference | incorporated-by-reference | not-applicable
    boundary: str  # heading | page


def cross_reference_sections(html: str) -> list[XrefSection] | None:
    """Items of a cross-reference-index 10-K in index order, or None for ordinary layouts."""
    return None
