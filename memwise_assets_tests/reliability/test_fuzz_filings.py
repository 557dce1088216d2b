"""Fuzzing the filing parser with hypothesis: no crash, no hang, only FilingError/ValueError."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memwise_assets.compute.filings import COLUMNS, FilingError, filing_sections, load_nlp

# Fragments that steer the parser into its branches: SGML wrappers, forms, Item headings,
# tables, entities, comments, scripts, page breaks, stray bytes.
FRAGMENTS = [
    "<html>",
    "</html>",
    "<body>",
    "</body>",
    "<p>",
    "</p>",
    "<div>",
    "</div>",
    "<br/>",
    "<table><tr><td>",
    "</td></tr></table>",
    "<b>",
    "</b>",
    "<span style='display:none'>",
    "</span>",
    "<script>var x='Item 9.';</script>",
    "<!-- Item 2. -->",
    "<![CDATA[x]]>",
    '<!DOCTYPE html [<!ENTITY e "Item 3.">]>',
    "&e;",
    "&nbsp;",
    "&#160;",
    "&#8217;",
    "&amp;",
    "<?xml version='1.0'?>",
    "<hr style='page-break-after:always'/>",
    "\x0c",
    "<PAGE>",
    "<DOCUMENT>",
    "</DOCUMENT>",
    "<TYPE>10-K",
    "<TYPE>10-Q",
    "<TEXT>",
    "</TEXT>",
    "CONFORMED SUBMISSION TYPE: 10-K\n",
    "FORM 10-K",
    "FORM 10-Q",
    "PART I",
    "PART II",
    "Item 1.",
    "ITEM 1A.",
    "Item 7",
    "Item 7A.",
    "Items 2 and 3.",
    "Item 15",
    "Business",
    "Risk Factors",
    "Cross Reference Index",
    "Not applicable.",
    "Table of Contents",
    "Revenue grew. Costs fell.",
    "\n",
    "\r\n",
    " ",
    "\t",
    "-",
    "<",
    ">",
    "&",
    "\u00e9",
    "\ufffd",
    "\u2028",
    "\x00",
]
documents = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=60).map(lambda xs: "".join(xs).encode()),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=40).map(
        lambda xs: "".join(xs).encode("utf-8", "surrogatepass")
    ),
    st.binary(max_size=2000),
)
SUFFIXES = st.sampled_from([".htm", ".txt", ".html"])
NLP = load_nlp()
STATS = {"cases": 0, "sectioned": 0, "refused": 0, "seconds": 0.0}


@settings(
    max_examples=1000,
    deadline=2000,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=documents, suffix=SUFFIXES)
def test_filing_sections_never_crashes_or_hangs(data: bytes, suffix: str) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            frame = filing_sections(path, nlp=NLP)
        except (FilingError, ValueError):
            STATS["refused"] += 1
        else:
            STATS["sectioned"] += 1
            assert isinstance(frame, pd.DataFrame) and list(frame.columns) == COLUMNS
            assert len(frame) > 0 and (frame["n_chars"] >= 0).all()
    STATS["cases"] += 1
    STATS["seconds"] += time.perf_counter() - started


def test_fuzzing_covered_both_outcomes() -> None:
    # Runs after the fuzz test in file order: the inputs reached the parser, not only refusals.
    if STATS["cases"]:
        assert STATS["sectioned"] > 0 and STATS["refused"] > 0, STATS
