"""Item labels that say what the text is: by-reference Items, exhibit numbers, signatures."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.filings import filing_sections, load_nlp
from memwise_assets.compute.filings.pages import strip_furniture
from memwise_assets.compute.filings.statements import (
    BODY,
    INCORPORATED,
    NOT_APPLICABLE,
    item_source,
    items_named_together,
)
from memwise_assets.defs.filings.checks import CORE_ITEMS, filing_check_results

DATA = Path(__file__).parents[3] / "memwise_assets" / "data" / "filings"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "filings"
APPLE = DATA / "apple_10-K_2024.htm"
MEDICIS = DATA / "medicis-pharmaceutical_10-K_1999.htm"
AMD = FIXTURES / "amd_10-K_2022.htm.gz"
EXHIBIT_NUMBER = re.compile(r"^\*?\d{1,2}\.\d{1,2}\**$")


@pytest.fixture(scope="module")
def frames() -> dict[Path, pd.DataFrame]:
    nlp = load_nlp()
    return {
        path: filing_sections(path, nlp=nlp).set_index("item", drop=False)
        for path in (APPLE, MEDICIS, AMD)
    }


def _sources(frame: pd.DataFrame, items: str) -> list[str]:
    return [str(frame.loc[item, "source"]) for item in items.split()]


def test_items_that_only_point_to_the_proxy_or_annual_report_are_incorporated(frames) -> None:
    apple, medicis = frames[APPLE], frames[MEDICIS]
    assert _sources(apple, "11 12 13 14") == [INCORPORATED] * 4
    # Item 10 carries an insider-trading policy of its own: body.
    assert _sources(apple, "1 7 8 10") == [BODY] * 4
    assert _sources(medicis, "6 7 7A 8") == [INCORPORATED] * 4
    # Items 10-12 are empty headings that Item 13's joint statement incorporates.
    assert _sources(medicis, "10 11 12 13") == [INCORPORATED] * 4
    # "The market for ... is the New York Stock Exchange." is an answer of its own.
    assert _sources(medicis, "5") == [BODY]
    assert _sources(medicis, "9") == [NOT_APPLICABLE]


def test_the_core_items_check_accepts_incorporated_items(frames) -> None:
    medicis = frames[MEDICIS].reset_index(drop=True)
    results = {r.check_name: r for r in filing_check_results({MEDICIS.name: medicis}, {})}
    assert results[CORE_ITEMS].passed, results[CORE_ITEMS].metadata


def test_exhibit_numbers_of_item_15_are_text_not_page_furniture(frames) -> None:
    for path, expected in ((APPLE, 59), (AMD, 47)):
        numbers = [
            n for n in frames[path].loc["15", "text"].splitlines() if EXHIBIT_NUMBER.match(n)
        ]
        assert len(numbers) >= expected, (path.name, len(numbers))
    amd = frames[AMD].loc["15", "text"].splitlines()
    assert {"2.1", "*10.1", "31.1", "32.1"} <= set(amd)


def test_running_footers_still_go_and_numbered_exhibits_stay() -> None:
    lines = []
    for page in range(1, 7):
        lines += [
            f"Exhibit text {page}",
            f"{page}.1",
            f"{page}.2",
            f"Acme Corp | 2024 Form 10-K | {page}",
        ]
    kept = strip_furniture(lines)
    assert [line for line in kept if "Acme" in line] == []
    assert [line for line in kept if EXHIBIT_NUMBER.match(line)] == [
        f"{p}.{n}" for p in range(1, 7) for n in (1, 2)
    ]


def test_the_signatures_page_is_its_own_row(frames) -> None:
    apple, medicis = frames[APPLE], frames[MEDICIS]
    assert list(apple["item"].astype(str))[-2:] == ["16", "SIGNATURES"]
    assert apple.loc["16", "text"] == "None." and apple.loc["16", "source"] == NOT_APPLICABLE
    assert apple.loc["SIGNATURES", "text"].startswith("Pursuant to the requirements of Section 13")
    # Medicis puts its exhibit index after the signatures: it stays with Item 14.
    assert "EXHIBIT INDEX" in medicis.loc["14", "text"]
    assert "EXHIBIT INDEX" not in medicis.loc["SIGNATURES", "text"]
    assert "/s/ JONAH SHACKNAI" in medicis.loc["SIGNATURES", "text"]
    assert (medicis.loc["SIGNATURES", "boundary"], medicis.loc["SIGNATURES", "source"]) == (
        "heading",
        BODY,
    )


@pytest.mark.parametrize(
    ("text", "source"),
    [
        (
            "The information required by this Item is incorporated herein by reference.",
            INCORPORATED,
        ),
        (
            "Information in response to this Item 7 can be found in the 2024 Annual Report under"
            " “Financial Review.” That information is incorporated into this report by reference.",
            INCORPORATED,
        ),
        (
            "Our auditor is Deloitte & Touche LLP. The information required by this item will be"
            " included in the Proxy Statement and is incorporated herein by reference.",
            BODY,
        ),
        ("See the Proxy Statement.", BODY),  # points, but incorporates nothing
        ("None.", NOT_APPLICABLE),
        ("", BODY),
    ],
)
def test_item_source_of_a_statement(text: str, source: str) -> None:
    assert item_source("Title", text) == source


def test_items_named_together() -> None:
    text = "The information called for by Items 10, 11, 12 and 13 are incorporated by reference"
    assert items_named_together(text) == {"10", "11", "12", "13"}
    assert items_named_together("Item 10 is incorporated by reference") == set()
