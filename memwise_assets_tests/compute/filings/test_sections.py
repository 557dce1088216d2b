"""filing_sections on real SEC filings: Items found and their order, Item 7 text, no TOC."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.filings import (
    COLUMNS,
    FilingError,
    detect_form,
    filing_id,
    filing_sections,
    load_nlp,
)

DATA = Path(__file__).parents[3] / "memwise_assets" / "data" / "filings"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "filings"

K_MODERN = "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16 SIGNATURES".split()
EXPECTED = {
    DATA / "apple_10-K_2024.htm": (
        "10-K",
        K_MODERN,
        "The following discussion should be read in conjunction with the consolidated",
    ),
    DATA / "medicis-pharmaceutical_10-K_1999.htm": (
        "10-K",
        "1 2 3 4 5 6 7 7A 8 9 10 11 12 13 14 SIGNATURES".split(),
        "Information required by this item is incorporated by reference on pages 14-21",
    ),
    DATA / "apple_10-Q_1997.txt": (
        "10-Q",
        "P1-1 P1-2 P2-1 P2-6 SIGNATURES".split(),
        "The following discussion should be read in conjunction with the consolidated",
    ),
    FIXTURES / "apple_10-K_1994.txt.gz": (
        "10-K",
        "1 2 3 4 5 6 7 8 9 10 11 12 13 14 SIGNATURES".split(),
        "The following discussion should be read in conjunction with the consolidated",
    ),
    FIXTURES / "alcoa_10-Q_2018.htm.gz": (
        "10-Q",
        "P1-1 P1-2 P1-3 P1-4 P2-1 P2-4 P2-6 SIGNATURES".split(),
        "(dollars in millions, except per-share amounts, average realized prices",
    ),
    FIXTURES / "commonwealth-income-growth-fund-v_10-K_2015.htm.gz": (
        "10-K",
        "1 1A 1B 2 3 4 5 6 7 7A 8 9 9A 9B 10 11 12 13 14 15 SIGNATURES".split(),
        "The following is a discussion of our current financial position and results",
    ),
    FIXTURES / "galaxy-next-generation_10-K_2021.htm.gz": (
        "10-K",
        "1 1A 1B 2 3 4 5 6 7 7A 8 9 9A 9B 10 11 12 13 14 15 16 SIGNATURES".split(),
        "The following discussion and analysis should be read in conjunction with our",
    ),
}
FIRST_WORDS_OF_ITEM_1 = {
    "apple_10-K_2024": "Company Background\nThe Company designs, manufactures and markets",
    "medicis-pharmaceutical_10-K_1999": "The Company\nMedicis is the leading independent",
    "apple_10-K_1994": 'General\nApple Computer, Inc. ("Apple" or the "Company") was incorporated',
    "commonwealth-income-growth-fund-v_10-K_2015": "GENERAL\nCommonwealth Income & Growth Fund",
    "galaxy-next-generation_10-K_2021": "Business Overview\nGalaxy is a manufacturer",
}


@pytest.fixture(scope="module")
def frames() -> dict[Path, pd.DataFrame]:
    nlp = load_nlp()
    return {path: filing_sections(path, nlp=nlp) for path in EXPECTED}


@pytest.mark.parametrize("path", list(EXPECTED), ids=lambda p: p.name)
def test_items_in_order_and_item_7_first_words(frames, path: Path) -> None:
    form, items, first_words = EXPECTED[path]
    df = frames[path]
    assert list(df.columns) == COLUMNS
    assert (df.form == form).all()
    assert list(df.item.astype(str)) == items
    key = "7" if form == "10-K" else "P1-2"
    assert df.loc[df.item == key, "text"].iloc[0].startswith(first_words)
    assert df.filing_id.nunique() == 1 and df.filing_id.iloc[0] == filing_id(path)


@pytest.mark.parametrize("stem", list(FIRST_WORDS_OF_ITEM_1))
def test_table_of_contents_is_never_a_section(frames, stem: str) -> None:
    df = next(f for p, f in frames.items() if p.name.startswith(stem + "."))
    item1 = df.loc[df.item == "1"].iloc[0]
    # A TOC entry would own a title and a page number; the real Item 1 is pages long.
    assert item1.n_chars > 10_000
    assert item1.text.startswith(FIRST_WORDS_OF_ITEM_1[stem])
    assert "Item 1A" not in item1.text[:2000] and "ITEM 2" not in item1.text[:2000]


def test_modern_10k_core_items_are_substantial_and_typed(frames) -> None:
    df = frames[DATA / "apple_10-K_2024.htm"].set_index(
        frames[DATA / "apple_10-K_2024.htm"].item.astype(str)
    )
    for item in ("1", "1A", "7", "8"):
        assert df.loc[item, "n_chars"] > 10_000
        assert df.loc[item, "n_sentences"] > 50
        assert df.loc[item, "n_tokens"] > df.loc[item, "n_sentences"] * 5
    assert df.loc["1A", "title"] == "Risk Factors"
    assert df.loc["7A", "title"] == "Quantitative and Qualitative Disclosures About Market Risk"
    # "Item 6. [Reserved]" and "Not applicable." Items are kept and labelled as such.
    assert df.loc["6", "text"] == "" and df.loc["6", "source"] == "not-applicable"
    assert df.loc["4", "text"] == "Not applicable." and df.loc["4", "source"] == "not-applicable"
    assert (df.loc[["1", "7", "8"], "source"] == "body").all()
    assert (df.boundary == "heading").all()
    # Running footers ("Apple Inc. | 2024 Form 10-K | 57") and page numbers are gone.
    assert "2024 Form 10-K |" not in "".join(df.text)
    assert df.n_chars.tolist() == [len(t) for t in df.text]
    dtypes = df.dtypes.astype(str).to_dict()
    assert {dtypes[c] for c in ("form", "item", "source", "boundary")} == {"category"}
    assert {dtypes[c] for c in ("n_chars", "n_sentences", "n_tokens")} == {"int32"}


def test_text_is_faithful_whitespace_normalised(frames) -> None:
    text = frames[DATA / "apple_10-K_2024.htm"].set_index("item").loc["7", "text"]
    assert "  " not in text and "\xa0" not in text and "\n\n" not in text
    assert "$391.0 billion" in text or "391,035" in text  # numbers and case kept


def test_frames_of_many_filings_concatenate_with_categories(frames) -> None:
    both = pd.concat(list(frames.values()), ignore_index=True)
    assert str(both.item.dtype) == "category" and str(both.form.dtype) == "category"
    assert set(both.form) == {"10-K", "10-Q"}


def test_form_detection_and_override(tmp_path: Path) -> None:
    assert detect_form(DATA / "apple_10-Q_1997.txt") == "10-Q"  # SGML header
    assert detect_form(DATA / "apple_10-K_2024.htm") == "10-K"  # dei:DocumentType
    assert detect_form(DATA / "medicis-pharmaceutical_10-K_1999.htm") == "10-K"  # cover page
    df = filing_sections(DATA / "medicis-pharmaceutical_10-K_1999.htm", form="10-k405")
    assert (df.form == "10-K").all()
    with pytest.raises(FilingError) as err:
        filing_sections(DATA / "medicis-pharmaceutical_10-K_1999.htm", form="8-K")
    assert err.value.reason == "unknown-form" and "10-K or 10-Q" in str(err.value)


def test_filing_id_is_stable_and_follows_content(tmp_path: Path) -> None:
    raw = (DATA / "medicis-pharmaceutical_10-K_1999.htm").read_bytes()
    a = tmp_path / "medicis-pharmaceutical_10-K_1999.htm"
    a.write_bytes(raw)
    assert filing_id(a) == filing_id(DATA / a.name) == filing_id(a)
    assert filing_id(a).startswith("medicis-pharmaceutical_10-K_1999-")
    a.write_bytes(raw + b"\n")
    assert filing_id(a) != filing_id(DATA / a.name)
