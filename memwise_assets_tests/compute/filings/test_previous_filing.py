"""The previous filing: same CIK and form, a year earlier, filed before; cover-page periods."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.filings.features import previous_filings, text_features
from memwise_assets.compute.filings.metadata import cover_period, filing_metadata
from memwise_assets.defs.filings.feature_checks import comparison_violations

FIXTURES = Path(__file__).parents[2] / "fixtures"
# Real filings (SOURCES.tsv of the SEC fixtures): id -> cik, form, period, filing date.
REAL = {
    "amd_10-K_2017": (2488, "10-K", "2017-12-30", "2018-02-27"),
    "amd_10-K_2022": (2488, "10-K", "2022-12-31", "2023-02-27"),
    "apple_10-K_1994": (320193, "10-K", "1994-09-30", "1994-12-13"),
    "apple_10-K_2024": (320193, "10-K", "2024-09-28", "2024-11-01"),
}


def _sections(filings: dict[str, tuple[int, str, str | None, str | None]]) -> pd.DataFrame:
    rows = []
    for fid, (cik, form, period, filed) in filings.items():
        for item, text in (("1A", f"risk {fid} factors"), ("7", f"results of {fid}")):
            rows.append(
                {
                    "filing_id": fid, "cik": cik, "company": str(cik), "ticker": None,
                    "form": form, "period_of_report": pd.Timestamp(period) if period else pd.NaT,
                    "filed_date": pd.Timestamp(filed) if filed else pd.NaT,
                    "accepted_at": pd.NaT, "accession": fid, "filed_date_unknown": filed is None,
                    "item": item, "text": text, "n_chars": len(text), "n_sentences": 1,
                }
            )  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["cik"] = frame["cik"].astype("Int64")
    frame["accepted_at"] = pd.to_datetime(frame["accepted_at"], utc=True)
    return frame


def _previous(features: pd.DataFrame) -> dict[str, object]:
    prev = [None if pd.isna(p) else p for p in features["prev_filing_id"]]
    return dict(zip(features["filing_id"], prev, strict=True))


def test_real_pairs_years_apart_are_not_compared() -> None:
    features = text_features(_sections(REAL))
    assert all(p is None for p in _previous(features).values())
    assert not any(comparison_violations(features).values())


def test_an_unknown_period_never_makes_a_later_filing_the_previous_one() -> None:
    # AMD's 2017 10-K without its period (the old failure): compared with nothing.
    filings = {**REAL, "amd_10-K_2017": (2488, "10-K", None, "2018-02-27")}
    prev = _previous(text_features(_sections(filings)))
    assert prev["amd_10-K_2017"] is None and prev["amd_10-K_2022"] is None


def test_a_10k_is_compared_with_last_years_10k() -> None:
    filings = {
        **REAL,
        "amd_10-K_2021": (2488, "10-K", "2021-12-25", "2022-02-03"),  # 52/53-week year
        "apple_10-K_2023": (320193, "10-K", "2023-09-30", "2023-11-03"),
        "apple_10-K_2023_refiled": (320193, "10-K/A", "2023-09-30", "2023-12-01"),
    }
    features = text_features(_sections(filings))
    prev = _previous(features)
    assert prev["amd_10-K_2022"] == "amd_10-K_2021"
    assert prev["apple_10-K_2024"] == "apple_10-K_2023"  # not the 10-K/A: another form
    assert not any(comparison_violations(features).values())


def test_a_10q_is_compared_with_the_same_quarter_a_year_earlier() -> None:
    quarters = {
        f"q{i}": (1, "10-Q", p, f)
        for i, (p, f) in enumerate(
            [
                ("2022-03-31", "2022-05-02"), ("2022-06-30", "2022-08-01"),
                ("2022-09-30", "2022-11-01"), ("2023-04-01", "2023-05-03"),
                ("2023-07-01", "2023-08-02"), ("2023-09-30", "2023-10-31"),
            ]
        )
    }  # fmt: skip
    features = text_features(_sections(quarters))
    prev = _previous(features)
    assert prev == {"q0": None, "q1": None, "q2": None, "q3": "q0", "q4": "q1", "q5": "q2"}
    assert not any(comparison_violations(features).values())


def test_never_a_filing_filed_later_or_on_the_same_day() -> None:
    filings = {
        "a": (1, "10-K", "2022-12-31", "2024-06-01"),  # filed late, after b
        "b": (1, "10-K", "2023-12-31", "2024-02-20"),
        "c": (1, "10-K", "2024-12-31", "2025-02-20"),
    }
    prev = previous_filings(_sections(filings).drop_duplicates("filing_id").reset_index())
    assert list(prev) == [None, None, "b"]


def test_the_check_catches_each_kind_of_wrong_comparison() -> None:
    filings = {
        "a": (1, "10-K", "2022-12-31", "2023-02-20"),
        "b": (1, "10-K", "2023-12-31", "2024-02-20"),
        "c": (1, "10-K", "2027-12-31", "2028-02-20"),
    }
    features = text_features(_sections(filings)).set_index("filing_id", drop=False)
    assert not any(comparison_violations(features).values())
    wrong = features.copy()
    wrong.loc["c", "prev_filing_id"] = "b"  # four years apart
    assert comparison_violations(wrong)["period_not_a_year_earlier"] == 1
    wrong = features.copy()
    wrong.loc["a", "prev_filing_id"] = "b"  # a later filing
    got = comparison_violations(wrong)
    assert got["filed_not_earlier"] == 1 and got["period_not_a_year_earlier"] == 1
    wrong = features.copy()
    wrong.loc["b", "prev_filing_id"] = None  # a predecessor left out
    assert comparison_violations(wrong)["not_the_rules_choice"] == 1


@pytest.mark.parametrize(
    ("name", "period"),
    [
        ("sec_facts/amd_10-K_2017.head.htm.gz", "2017-12-30"),
        ("sec_facts/facebook_10-Q_2019.head.htm.gz", "2019-03-31"),
        ("filings/alcoa_10-Q_2018.htm.gz", "2018-06-30"),
    ],
)
def test_period_from_the_cover_page(tmp_path, name: str, period: str) -> None:
    data = gzip.decompress((FIXTURES / name).read_bytes())
    assert cover_period(data) == pd.Timestamp(period)
    path = tmp_path / Path(name).name.removesuffix(".gz")
    assert filing_metadata(path, data).period_of_report == pd.Timestamp(period)
