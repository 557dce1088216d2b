"""Every real filing in ../shared/data/sec (when present): its metadata, and the seven
consecutive 10-K pairs' text similarities."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.filings import filing_sections, load_nlp
from memwise_assets.compute.filings.features import text_features
from memwise_assets.compute.filings.metadata import filing_metadata
from memwise_assets.compute.filings.source import open_document

SEC = Path(__file__).parents[4] / "shared" / "data" / "sec"
if not SEC.is_dir():
    SEC = Path("/work/shared/data/sec")
pytestmark = pytest.mark.skipif(not SEC.is_dir(), reason="no shared SEC filings here")
# No header, no dei facts, no EDGAR exhibit links: nothing in the file names the filer.
NO_CIK = {"medicis-pharmaceutical", "gainsco", "gencorp", "commonwealth-income-growth-fund-v"}
PAIRS = ("amazon", "alphabet", "ibm", "jnj", "tesla", "coca-cola", "nvidia")


def _files() -> list[Path]:
    return sorted(p for p in SEC.glob("*") if p.suffix in (".htm", ".txt"))


def _sources() -> dict[str, str]:
    table = pd.read_csv(SEC / "SOURCES.tsv", sep="\t", dtype=str)
    return dict(zip(table["file"], table["company"], strict=True))


@pytest.mark.parametrize("path", _files() if SEC.is_dir() else [], ids=lambda p: p.name)
def test_every_shared_filing_has_a_form_and_its_cik(path: Path) -> None:
    data = path.read_bytes()
    doc = open_document(path, data)
    assert doc.form in ("10-K", "10-Q")
    meta = filing_metadata(path, data, doc.start, doc.end)
    stem = path.name.split("_")[0]
    if stem in NO_CIK:
        assert meta.cik is None
        return
    assert meta.cik is not None
    named = _sources()[path.name]
    if "(CIK " in named:  # SOURCES.tsv names the CIK for some: they must agree
        assert f"(CIK {meta.cik})" in named


def test_seven_consecutive_pairs_are_compared_within_company() -> None:
    nlp = load_nlp()
    paths = [p for c in PAIRS for p in sorted(SEC.glob(f"{c}_10-K_20*.htm"))]
    assert len(paths) == 14
    features = text_features(
        pd.concat([filing_sections(p, nlp=nlp) for p in paths], ignore_index=True)
    ).set_index("filing_id")
    later = features[features["prev_filing_id"].notna()]
    assert len(later) == 7 and later["cik"].nunique() == 7
    for fid, row in later.iterrows():
        earlier = features.loc[row["prev_filing_id"]]
        assert earlier["cik"] == row["cik"]
        assert earlier["period_of_report"] < row["period_of_report"]
        assert fid.split("_")[0] == row["prev_filing_id"].split("_")[0]
        for column in ("cosine_1a", "jaccard_1a", "cosine_all", "jaccard_all"):
            assert 0.5 < row[column] <= 1.0, (fid, column)
