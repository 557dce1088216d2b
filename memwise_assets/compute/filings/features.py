"""Text features of each filing, and how much its text changed since the previous one.

In the spirit of "Lazy Prices" (Cohen, Malloy and Nguyen, Journal of Finance 2020): a
filing is compared with the same company's (same CIK) previous filing of the same form,
for Item 1A (risk factors), Item 7 (MD&A) and the whole document, by the cosine
similarity of term-frequency vectors and the Jaccard similarity of word sets. 1.0 means
unchanged; NaN means there is nothing to compare (first filing, no CIK, empty Item).

10-Qs have the same two Items under other numbers: Part II Item 1A and Part I Item 2.
Memory: one filing's word counts (three Counters) are held at a time per company chain.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np
import pandas as pd

# Scope name -> the Item it is in a 10-K and in a 10-Q ("all" is the whole document).
SCOPES = {"1a": ("1A", "P2-1A"), "7": ("7", "P1-2")}
IDENTITY = [
    "filing_id",
    "cik",
    "company",
    "ticker",
    "form",
    "period_of_report",
    "filed_date",
    "accepted_at",
    "accession",
    "filed_date_unknown",
]
SECTION_COLUMNS = [*IDENTITY, "item", "text", "n_chars", "n_sentences"]
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words(text: str) -> Counter[str]:
    """Term frequencies of a text: lower-case words, numbers and punctuation dropped."""
    return Counter(_WORD.findall(text.lower()))


def cosine_similarity(a: Counter[str], b: Counter[str]) -> float:
    """Cosine of two term-frequency vectors; NaN when either is empty."""
    if not a or not b:
        return math.nan
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    dot = sum(count * large.get(word, 0) for word, count in small.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return min(1.0, dot / norm)


def jaccard_similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """|A & B| / |A | B| of two word sets; NaN when either is empty (as for the cosine)."""
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa and sb else math.nan


def _filing_counts(group: pd.DataFrame) -> dict[str, Counter[str]]:
    items = group["item"].astype(str)
    counts = {}
    for scope, names in SCOPES.items():
        counts[scope] = words("\n".join(group.loc[items.isin(names), "text"]))
    # "Items 1 and 2" share one text: the whole document counts it once.
    counts["all"] = words("\n".join(pd.unique(group["text"])))
    return counts


def _lengths(group: pd.DataFrame) -> dict[str, int]:
    items = group["item"].astype(str)
    unique = ~group["text"].duplicated()
    row = {
        "n_items": int(len(group)),
        "n_chars": int(group.loc[unique, "n_chars"].sum()),
        "n_sentences": int(group.loc[unique, "n_sentences"].sum()),
    }
    for scope, names in SCOPES.items():
        mask = items.isin(names)
        row[f"n_chars_{scope}"] = int(group.loc[mask, "n_chars"].sum())
        row[f"n_sentences_{scope}"] = int(group.loc[mask, "n_sentences"].sum())
    return row


def filing_order(filings: pd.DataFrame) -> pd.DataFrame:
    """Filings sorted as a company's history: by CIK, form, period, filing date, id."""
    keys = ["cik", "form", "period_of_report", "filed_date", "filing_id"]
    return filings.sort_values(keys, na_position="last", kind="stable")


def text_features(sections: pd.DataFrame) -> pd.DataFrame:
    """One row per filing: identity, lengths, and similarity to the previous same-form filing.

    `sections` is `sec_filing_sections` (at least SECTION_COLUMNS) for any set of filings.
    """
    missing = [c for c in SECTION_COLUMNS if c not in sections.columns]
    if missing:
        raise ValueError(
            f"text_features needs sec_filing_sections columns {SECTION_COLUMNS}; missing: {missing}"
        )
    firsts = sections.drop_duplicates("filing_id")[IDENTITY].copy()
    firsts["form"] = firsts["form"].astype(str)
    firsts = filing_order(firsts).reset_index(drop=True)
    by_filing = dict(tuple(sections.groupby("filing_id", sort=False, observed=True)))
    rows: list[dict[str, object]] = []
    previous: tuple[object, str, dict[str, Counter[str]], str] | None = None
    for record in firsts.itertuples(index=False):
        group = by_filing[record.filing_id]
        counts = _filing_counts(group)
        row: dict[str, object] = {**_lengths(group), "prev_filing_id": None}
        comparable = (
            previous is not None
            and not pd.isna(record.cik)
            and previous[0] == record.cik
            and previous[1] == record.form
        )
        for scope in (*SCOPES, "all"):
            # An empty Counter stands for "nothing to compare with": both measures give NaN.
            before = previous[2][scope] if comparable else Counter()
            row[f"cosine_{scope}"] = cosine_similarity(counts[scope], before)
            row[f"jaccard_{scope}"] = jaccard_similarity(counts[scope], before)
        if comparable:
            row["prev_filing_id"] = previous[3]
        rows.append(row)
        previous = (record.cik, record.form, counts, record.filing_id)
    measures = pd.DataFrame(rows, index=firsts.index)
    out = pd.concat([firsts, measures], axis=1)
    for column in out.columns:
        if column.startswith(("cosine_", "jaccard_")):
            out[column] = out[column].astype(np.float32)
        elif column.startswith(("n_chars", "n_sentences", "n_items")):
            out[column] = out[column].astype(np.int32)
    return out
