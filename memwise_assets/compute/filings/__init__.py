"""SEC 10-K/10-Q filings to one clean row per Item: parse, sectionize, count with spaCy."""

from memwise_assets.compute.filings.errors import FilingError
from memwise_assets.compute.filings.nlp import load_nlp
from memwise_assets.compute.filings.pipeline import COLUMNS, document_lines, filing_sections
from memwise_assets.compute.filings.source import detect_form, filing_id

__all__ = [
    "COLUMNS",
    "FilingError",
    "detect_form",
    "document_lines",
    "filing_id",
    "filing_sections",
    "load_nlp",
]
