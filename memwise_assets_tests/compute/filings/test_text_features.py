"""Filing text features on two real consecutive 10-K pairs (Tesla, IBM FY2023 -> FY2024)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.filings import filing_sections, load_nlp
from memwise_assets.compute.filings.features import (
    cosine_similarity,
    jaccard_similarity,
    text_features,
    words,
)

FILINGS = Path(__file__).parents[2] / "fixtures" / "filings"
PAIRS = ["tesla_10-K_2023", "tesla_10-K_2024", "ibm_10-K_2023", "ibm_10-K_2024"]
SIMILARITIES = [f"{m}_{s}" for m in ("cosine", "jaccard") for s in ("1a", "7", "all")]


@pytest.fixture(scope="module")
def sections(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("pairs")
    nlp = load_nlp()
    frames = []
    for stem in PAIRS:
        path = folder / f"{stem}.htm"
        with gzip.open(FILINGS / f"{stem}.htm.gz", "rb") as src, open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)
        frames.append(filing_sections(path, nlp=nlp))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def features(sections: pd.DataFrame) -> pd.DataFrame:
    return text_features(sections).set_index("ticker", drop=False)


def _row(features: pd.DataFrame, ticker: str, year: int) -> pd.Series:
    rows = features.loc[[ticker]]
    return rows[rows["period_of_report"].dt.year == year].iloc[0]


@pytest.mark.parametrize("ticker", ["TSLA", "IBM"])
def test_later_filing_is_compared_with_the_earlier_one(features, ticker: str) -> None:
    earlier, later = _row(features, ticker, 2023), _row(features, ticker, 2024)
    assert later["prev_filing_id"] == earlier["filing_id"]
    for column in SIMILARITIES:
        assert 0.5 < later[column] < 1.0 or later[column] == 1.0, column
        assert np.isnan(earlier[column]), column  # nothing before the first filing
    assert later["n_chars_1a"] > 10_000 and later["n_sentences_1a"] > 100
    assert later["n_chars"] >= later["n_chars_1a"] + later["n_chars_7"]


def test_one_row_per_filing_with_identity(features, sections) -> None:
    assert len(features) == sections["filing_id"].nunique() == 4
    assert set(features["cik"]) == {1318605, 51143}
    assert features["filed_date_unknown"].all()  # no sidecar: the files give no date


def test_a_company_is_never_compared_with_another(sections) -> None:
    # IBM's FY2023 text relabelled as another period of Tesla's would be compared only if
    # the CIK matched; with IBM's own CIK it stays in IBM's history.
    shuffled = sections.sample(frac=1.0, random_state=3)
    got = text_features(shuffled).set_index("filing_id")
    for fid, prev in got["prev_filing_id"].dropna().items():
        assert got.loc[fid, "cik"] == got.loc[prev, "cik"]
        assert got.loc[fid, "form"] == got.loc[prev, "form"]


def test_a_filing_compared_with_itself_scores_one(sections) -> None:
    tesla = sections[sections["filing_id"].str.startswith("tesla_10-K_2024")]
    copy = tesla.assign(filing_id="tesla-copy", period_of_report=pd.Timestamp("2025-12-31"))
    got = text_features(pd.concat([tesla, copy], ignore_index=True)).set_index("filing_id")
    for column in SIMILARITIES:
        assert got.loc["tesla-copy", column] == pytest.approx(1.0), column


def test_filing_without_cik_is_not_compared(sections) -> None:
    nocik = sections.assign(cik=pd.array([pd.NA] * len(sections), dtype="Int64"))
    assert text_features(nocik)["prev_filing_id"].isna().all()


def test_similarity_measures() -> None:
    a, b = words("Risk risk factors, 2024."), words("risk factors changed")
    assert dict(a) == {"risk": 2, "factors": 1}
    assert cosine_similarity(a, a) == pytest.approx(1.0)
    assert cosine_similarity(a, b) == pytest.approx(3 / (5**0.5 * 3**0.5))
    assert jaccard_similarity(a, b) == pytest.approx(2 / 3)
    assert np.isnan(cosine_similarity(a, words("")))
    assert np.isnan(jaccard_similarity(a, words("")))  # a missing Item: nothing to compare


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="missing"):
        text_features(pd.DataFrame({"filing_id": ["x"]}))
