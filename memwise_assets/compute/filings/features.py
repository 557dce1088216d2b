"""Text features of each filing, and how much its text changed since the previous one.

In the spirit of "Lazy Prices" (Cohen, Malloy and Nguyen, Journal of Finance 2020), like is
compared with like: a 10-K with the same company's (same CIK) 10-K of the year before, a
10-Q with its 10-Q of the same fiscal quarter a year earlier (Q1 with last year's Q1, never
with the Q3 just before), for Item 1A (risk factors), Item 7 (MD&A) and the whole document,
by the cosine similarity of term-frequency vectors and the Jaccard similarity of word sets.

The previous filing (`previous_filings`) has the same CIK and form, a period of report a
year earlier give or take `PERIOD_TOLERANCE_DAYS` (52/53-week years move a period end by a
week), and was filed strictly earlier (where both filing dates are known). A filing
without a period, CIK or such a predecessor is compared with nothing: NaN. 1.0 means
unchanged.

10-Qs have the same two Items under other numbers: Part II Item 1A and Part I Item 2.
Memory: word counts (three Counters per filing) are kept only until the last filing that
compares with them is done: about a year of filings per company and form.
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
YEAR_DAYS = 365.25
# A year earlier, give or take three weeks: the widest gap a like-for-like predecessor has.
PERIOD_TOLERANCE_DAYS = 21


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


def previous_filings(
    filings: pd.DataFrame, *, tolerance_days: int = PERIOD_TOLERANCE_DAYS
) -> pd.Series:
    """Per filing (index of `filings`), the filing_id it is compared with, or None.

    Same CIK and form; period of report a year earlier within `tolerance_days`; filed
    strictly earlier where both filing dates are known. Of several, the period closest to a
    year earlier, then the latest filed.
    """
    base = pd.DataFrame(
        {
            "_pos": np.arange(len(filings)),
            "cik": filings["cik"].astype("Int64"),
            "form": filings["form"].astype(str),
            "period": pd.to_datetime(filings["period_of_report"]).astype("datetime64[ns]"),
            "filed": pd.to_datetime(filings["filed_date"]).astype("datetime64[ns]"),
            "filing_id": filings["filing_id"].astype(object),
        }
    )
    known = base[base["cik"].notna() & base["period"].notna()]
    pairs = known.merge(known, on=["cik", "form"], suffixes=("", "_prev"))
    gap = (pairs["period"] - pairs["period_prev"]).dt.days
    filed_later = pairs["filed"].notna() & pairs["filed_prev"].notna()
    filed_later &= pairs["filed_prev"] >= pairs["filed"]
    pairs = pairs[((gap - YEAR_DAYS).abs() <= tolerance_days) & ~filed_later]
    pairs = pairs.assign(_off=(gap[pairs.index] - YEAR_DAYS).abs())
    pairs = pairs.sort_values(
        ["_pos", "_off", "filed_prev", "filing_id_prev"],
        ascending=[True, True, False, False],
        na_position="last",
        kind="stable",
    ).drop_duplicates("_pos")
    out = np.full(len(filings), None, dtype=object)
    out[pairs["_pos"].to_numpy()] = pairs["filing_id_prev"].to_numpy()
    return pd.Series(out, index=filings.index, name="prev_filing_id", dtype=object)


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
    previous = previous_filings(firsts)
    position = {fid: i for i, fid in enumerate(firsts["filing_id"])}
    # Word counts are kept until the last filing that compares with them is done.
    last_use: dict[object, int] = {}
    for i, prev in enumerate(previous):
        if prev is not None:
            last_use[prev] = i
    by_filing = dict(tuple(sections.groupby("filing_id", sort=False, observed=True)))
    kept: dict[object, dict[str, Counter[str]]] = {}
    rows: list[dict[str, object]] = []
    for i, (fid, prev) in enumerate(zip(firsts["filing_id"], previous, strict=True)):
        group = by_filing[fid]
        counts = _filing_counts(group)
        comparable = prev is not None and prev in kept and position[prev] < i
        row: dict[str, object] = {**_lengths(group), "prev_filing_id": prev if comparable else None}
        for scope in (*SCOPES, "all"):
            # An empty Counter stands for "nothing to compare with": both measures give NaN.
            before = kept[prev][scope] if comparable else Counter()
            row[f"cosine_{scope}"] = cosine_similarity(counts[scope], before)
            row[f"jaccard_{scope}"] = jaccard_similarity(counts[scope], before)
        rows.append(row)
        if last_use.get(fid, -1) > i:
            kept[fid] = counts
        for done in [k for k in kept if last_use[k] <= i]:
            del kept[done]
    measures = pd.DataFrame(rows, index=firsts.index)
    out = pd.concat([firsts, measures], axis=1)
    for column in out.columns:
        if column.startswith(("cosine_", "jaccard_")):
            out[column] = out[column].astype(np.float32)
        elif column.startswith(("n_chars", "n_sentences", "n_items")):
            out[column] = out[column].astype(np.int32)
    return out
