"""SEC 10-K/10-Q filings to one clean row per Item: parse, sectionize, count with spaCy.

`filing_sections(path)` columns: filing_id, the filing's metadata (cik Int64, company,
period_of_report, filed_date, accepted_at UTC, accession, ticker, filed_date_unknown: see
`metadata.py`), form ('10-K' | '10-Q'), item, title, text (lines joined by '\\n',
whitespace collapsed, case and numbers kept), n_chars,
n_sentences, n_tokens (int32), source and boundary (categories):

- item: '1' ... '16' ('4A' where a filer numbers its executive officers so) for 10-Ks,
  'P1-1' ... 'P2-6' for 10-Qs, and 'SIGNATURES' for the signatures page after the last
  Item (what a filer puts after it, such as an exhibit index, stays with the last Item).
- source: 'body' (the Item's own text), 'not-applicable' (it only says "Not applicable",
  "None" or "[Reserved]"), 'incorporated-by-reference' (its text only points to a proxy
  statement, an annual-report exhibit or another part of the filing and incorporates it
  by reference; an empty Item that another Item's joint statement names is so too), or
  'cross-reference' (an annual-report layout's index row, from `xref.py`).
- boundary: 'heading' (text runs from the Item's heading to the next Item's), 'combined'
  (a shared heading such as "Items 1 and 2.": each Item carries the same text), or the
  cross-reference reader's 'page' / 'index'.
"""

from memwise_assets.compute.filings.errors import FilingError
from memwise_assets.compute.filings.landing import SAFE_NAME
from memwise_assets.compute.filings.metadata import (
    SUBMISSIONS_DIR,
    edgar_acceptance_utc,
    sidecar_path,
)
from memwise_assets.compute.filings.nlp import load_nlp
from memwise_assets.compute.filings.pipeline import COLUMNS, document_lines, filing_sections
from memwise_assets.compute.filings.source import detect_form, filing_id

__all__ = [
    "COLUMNS",
    "SAFE_NAME",
    "SUBMISSIONS_DIR",
    "FilingError",
    "detect_form",
    "document_lines",
    "edgar_acceptance_utc",
    "filing_id",
    "filing_sections",
    "load_nlp",
    "sidecar_path",
]
