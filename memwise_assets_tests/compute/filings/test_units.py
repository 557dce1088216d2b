"""Filings compute on small made-up documents: heading forms, bad input, parsers, spaCy counts."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import pytest

from memwise_assets.compute.filings import FilingError, document_lines, filing_sections, load_nlp
from memwise_assets.compute.filings import pipeline as filings_pipeline
from memwise_assets.compute.filings.nlp import count_texts
from memwise_assets.compute.filings.source import open_document
from memwise_assets.compute.filings.xref import XrefSection

DATA = Path(__file__).parents[3] / "memwise_assets" / "data" / "filings"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "filings"
FILLER = " ".join(["The company sells widgets to customers in many markets."] * 12)


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


TOC = "".join(
    f"<tr><td><a href='#i{i}'>Item {i}.</a></td><td>Title {i}</td><td>{n}</td></tr>"
    for n, i in enumerate(["1", "1A", "2", "3", "4", "7", "7A", "8"], start=3)
)
TEN_K = f"""<?xml version='1.0' encoding='ASCII'?>
<html><head><title>10-K</title><style>p {{ color: red }} /* Item 9. */</style></head><body>
<div style="display:none"><ix:header><ix:hidden>Item 5. a hidden fact</ix:hidden></ix:header></div>
<p>UNITED STATES</p><p>FORM 10-K</p>
<p>Table of Contents</p><table>{TOC}</table>
<p>PART I</p>
<p><b>ITEM 1.</b> BUSINESS</p><p>{FILLER} See Item 7 for more.</p>
<p>Item 7, Management's Discussion, describes our results.</p>
<hr style="page-break-after:always"/><p>- 4 -</p>
<p><span>Item</span><span>&#160;1A.</span></p><p>Risk Factors</p><p>Risks abound. {FILLER}</p>
<p>Items 2 and 3. Properties and Legal Proceedings</p><p>We rent offices. {FILLER}</p>
<p>Item 4 - Mine Safety Disclosures</p><p>Not applicable.</p>
<p>PART II</p>
<p>ITEM&nbsp;7. MANAGEMENT&#8217;S DISCUSSION</p><p>Revenue grew 5% to $1,234 million. {FILLER}</p>
<div style="DISPLAY: none">Item 7B. never shown</div>
<p>Item 7A. Quantitative and Qualitative Disclosures</p><p>Rates moved. {FILLER}</p>
<p>Item 8. Financial Statements</p><p>Balance sheet. {FILLER}</p>
<script>var s = "Item 9. not text";</script>
<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="/>
</body></html>"""


def test_heading_forms_toc_and_cross_references(tmp_path: Path) -> None:
    df = filing_sections(_write(tmp_path, "synthetic_10-K.htm", TEN_K)).set_index("item")
    assert list(df.index.astype(str)) == ["1", "1A", "2", "3", "4", "7", "7A", "8"]
    assert df.loc["1", "title"] == "BUSINESS"
    # Body cross-references stay in the text; the TOC and page furniture do not.
    assert df.loc["1", "text"] == (
        f"{FILLER} See Item 7 for more.\nItem 7, Management's Discussion, describes our results."
    )
    assert df.loc["1A", "title"] == "Risk Factors"  # heading split across tags and lines
    assert df.loc["1A", "text"].startswith("Risks abound.")
    assert df.loc["2", "text"] == df.loc["3", "text"] and df.loc["2", "boundary"] == "combined"
    assert df.loc["2", "title"] == "Properties and Legal Proceedings"
    assert df.loc["4", "title"] == "Mine Safety Disclosures"
    assert (df.loc["4", "text"], df.loc["4", "source"]) == ("Not applicable.", "not-applicable")
    assert df.loc["7", "title"] == "MANAGEMENT\u2019S DISCUSSION"  # nbsp and entity handled
    assert df.loc["7", "text"].startswith("Revenue grew 5% to $1,234 million.")
    assert "7A" not in df.loc["7", "text"] and "never shown" not in "".join(df.text)
    for hidden in ("hidden fact", "not text", "iVBOR", "color: red"):
        assert hidden not in "".join(df.text)


def test_ten_q_parts_number_the_items(tmp_path: Path) -> None:
    body = "".join(
        [
            "<p>FORM 10-Q</p><p>PART I. FINANCIAL INFORMATION</p>",
            *(f"<p>Item {i}. Part one item {i}</p><p>{FILLER}</p>" for i in "1234"),
            "<p>PART II &#8212; OTHER INFORMATION</p>",
            *(f"<p>Item {i}. Part two item {i}</p><p>{FILLER}</p>" for i in ["1", "1A", "6"]),
        ]
    )
    path = _write(tmp_path, "q.htm", f"<html><body>{body}</body></html>")
    df = filing_sections(path)
    assert list(df.item.astype(str)) == "P1-1 P1-2 P1-3 P1-4 P2-1 P2-1A P2-6".split()
    assert (df.form == "10-Q").all()
    # The Part II heading closes Part I's last Item instead of trailing in its text.
    assert df.loc[df.item == "P1-4", "text"].iloc[0] == FILLER


def test_plain_text_submission_joins_wrapped_headings(tmp_path: Path) -> None:
    text = (
        "<SEC-DOCUMENT>\nCONFORMED SUBMISSION TYPE:\t10-K\n<DOCUMENT>\n<TYPE>10-K\n<TEXT>\n"
        "PART II\n\nItem 7.  Management's Discussion and Analysis of Financial Condition and\n"
        "         Results of Operations\n\nNet sales rose\nin 1994.  Margins fell.\n\n<PAGE>\n"
        "Item 8. Financial Statements\n\nSee pages F-1\nto F-20.\n"
        "</TEXT>\n</DOCUMENT>\n<DOCUMENT>\n<TYPE>EX-27\n<TEXT>\nItem 9. exhibit\n</TEXT>\n"
        "</DOCUMENT>\n</SEC-DOCUMENT>\n"
    )
    df = filing_sections(_write(tmp_path, "old.txt", gzip.compress(text.encode())))
    assert list(df.item.astype(str)) == ["7", "8"]
    assert df.title.iloc[0] == (
        "Management's Discussion and Analysis of Financial Condition and Results of Operations"
    )
    assert df.text.tolist() == ["Net sales rose in 1994. Margins fell.", "See pages F-1 to F-20."]
    assert df.n_sentences.tolist() == [2, 1]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"  \n\t\n", "empty"),
        (bytes(range(256)) * 40, "binary"),
        (b"\x89PNG\r\n\x1a\n" + b"x" * 100, "binary"),
        (b"<html><body><p>FORM 10-K</p><p>Nothing to see.</p></body></html>", "no-items"),
        (
            b"<html><body><p>FORM 8-K</p><p>Item 1. Entry</p><p>Text</p></body></html>",
            "unknown-form",
        ),
        (
            b"CONFORMED SUBMISSION TYPE:\t8-K\n<DOCUMENT>\n<TYPE>8-K\n<TEXT>\nItem 1. x\n</TEXT>",
            "unknown-form",
        ),
        (b"<DOCUMENT>\n<TYPE>10-K\n<TEXT>\nITEM 1. BUSINESS\nWe make things.\n", "truncated"),
        (b"\x1f\x8b\x08\x00garbage", "unreadable"),
    ],
)
def test_bad_input_raises_filing_error_with_reason(tmp_path: Path, content: bytes, reason: str):
    with pytest.raises(FilingError) as err:
        filing_sections(_write(tmp_path, "bad.htm", content))
    assert err.value.reason == reason
    assert isinstance(err.value, ValueError) and "bad.htm" in str(err.value)


def test_truncated_html_and_missing_file(tmp_path: Path) -> None:
    raw = (DATA / "apple_10-K_2024.htm").read_bytes()
    with pytest.raises(FilingError, match="truncated") as err:
        filing_sections(_write(tmp_path, "cut.htm", raw[: len(raw) // 2]))
    assert err.value.reason == "truncated"
    with pytest.raises(FilingError) as err:
        filing_sections(tmp_path / "missing.htm")
    assert err.value.reason == "unreadable"


@pytest.mark.parametrize(
    "path",
    [
        DATA / "medicis-pharmaceutical_10-K_1999.htm",
        DATA / "apple_10-K_2024.htm",
        FIXTURES / "commonwealth-income-growth-fund-v_10-K_2015.htm.gz",
    ],
    ids=lambda p: p.name,
)
def test_lean_lxml_lines_equal_beautifulsoup_lines(path: Path) -> None:
    doc = open_document(path)
    lean = document_lines(doc, "lxml")
    assert len(lean) > 300
    assert lean == document_lines(doc, "bs4")


def test_bs4_engine_gives_the_same_frame() -> None:
    path = DATA / "medicis-pharmaceutical_10-K_1999.htm"
    lean, reference = filing_sections(path), filing_sections(path, engine="bs4")
    assert lean.equals(reference)
    with pytest.raises(ValueError, match="engine"):
        filing_sections(path, engine="html5lib")  # type: ignore[arg-type]


def test_lean_parse_holds_a_fraction_of_what_the_dom_holds() -> None:
    """Python-side allocation peaks: the event parse keeps text only, the DOM keeps nodes."""
    doc = open_document(DATA / "medicis-pharmaceutical_10-K_1999.htm")
    peaks = {}
    for engine in ("lxml", "bs4"):
        tracemalloc.start()
        document_lines(doc, engine)
        peaks[engine] = tracemalloc.get_traced_memory()[1] / doc.nbytes
        tracemalloc.stop()
    # Medicis is mostly text: the lean peak is its lines plus one 64 KB feed slice.
    assert peaks["lxml"] < 2.5, peaks
    assert peaks["bs4"] > 10 * peaks["lxml"], peaks


def test_counts_match_the_spacy_sentencizer_and_are_exact() -> None:
    nlp = load_nlp()
    assert load_nlp() is nlp and nlp.pipe_names == ["sentencizer"]
    texts = filing_sections(FIXTURES / "apple_10-K_1994.txt.gz", nlp=nlp).text.tolist()
    texts += ["Hello world. This is it!\nNo period here", "", '"Quoted." Next one... (Paren.) And']
    fast, slow = count_texts(texts, nlp), count_texts(texts, nlp, vectorised=False)
    assert fast[0].tolist() == slow[0].tolist() and fast[1].tolist() == slow[1].tolist()
    assert (fast[0][-3], fast[1][-3]) == (3, 10)
    assert (fast[0][-2], fast[1][-2]) == (0, 0)
    assert fast[0].dtype.name == "int32"


XREF_PAGE = ("cross-reference", "page")
NOT_APPLICABLE = ("not-applicable", "heading")


def test_cross_reference_sections_are_used_and_cleaned(tmp_path, monkeypatch) -> None:
    calls: list[int] = []

    def fake(html: str) -> list[XrefSection] | None:
        calls.append(len(html))
        if "Cross Reference Index" not in html:
            return None
        return [
            XrefSection("1", " Business ", "  Our   business.\n\n  More text. ", *XREF_PAGE),
            XrefSection("1B", "Unresolved Staff Comments", "Not applicable", *NOT_APPLICABLE),
        ]

    monkeypatch.setattr(filings_pipeline, "cross_reference_sections", fake)
    html = "<html><body><p>FORM 10-K</p><p>Form 10-K Cross Reference Index</p></body></html>"
    df = filing_sections(_write(tmp_path, "xref.htm", html))
    assert df.item.astype(str).tolist() == ["1", "1B"]
    assert df.text.tolist() == ["Our business.\nMore text.", "Not applicable"]
    assert df.title.tolist() == ["Business", "Unresolved Staff Comments"]
    assert df.source.astype(str).tolist() == ["cross-reference", "not-applicable"]
    assert df.boundary.astype(str).tolist() == ["page", "heading"]
    assert df.n_sentences.tolist() == [2, 1] and df.n_tokens.tolist() == [6, 2]
    # Documents that never mention a cross-reference index are not even decoded for it.
    calls.clear()
    filing_sections(DATA / "apple_10-K_2024.htm")
    assert calls == []


def test_a_failing_cross_reference_reader_falls_back_to_headings(tmp_path, monkeypatch) -> None:
    def broken(html: str) -> None:
        raise RuntimeError("index reader bug")

    monkeypatch.setattr(filings_pipeline, "cross_reference_sections", broken)
    html = TEN_K.replace("<p>PART I</p>", "<p>PART I</p><p>(No cross-reference index.)</p>")
    df = filing_sections(_write(tmp_path, "x.htm", html))
    assert list(df.item.astype(str)) == ["1", "1A", "2", "3", "4", "7", "7A", "8"]
    assert (df.source != "cross-reference").all()


def test_bench_case_runs_memwise_its_pool_then_the_bs4_baseline(tmp_path: Path) -> None:
    from memwise_assets.bench.filings import run

    assert run(None, True) == [] and run(tmp_path, True) == []
    (tmp_path / "sec").mkdir()
    (tmp_path / "sec" / "medicis_10-K_1999.htm").write_bytes(
        (DATA / "medicis-pharmaceutical_10-K_1999.htm").read_bytes()
    )
    rows = run(tmp_path, True)
    assert [r.impl for r in rows] == ["memwise (lxml events)", "memwise pool x2", "bs4 DOM"]
    assert {r.case for r in rows} == {"filings-sec"}
    assert all(r.items == pytest.approx(194.952) and r.unit == "KB" for r in rows)
    single, pool, bs4 = rows
    assert all("MB/s CPU" in r.note and "1 files" in r.note for r in (single, bs4))
    assert "2 warm workers; 1/1 ok" in pool.note


@pytest.mark.parametrize(
    ("encoding", "quote"),
    [("utf-8", "\u2019"), ("cp1252", "\u2019"), ("latin-1", "'")],
)
def test_non_ascii_encodings_decode_the_same_in_both_engines(tmp_path, encoding, quote) -> None:
    html = (
        f"<html><body><p>FORM 10-K</p><p>Item 1. Business</p><p>Company{quote}s {FILLER}</p>"
        f"<p>Item 7. MD&amp;A</p><p>Caf\u00e9 \u00a0sales. {FILLER}</p></body></html>"
    )
    path = _write(tmp_path, f"{encoding}.htm", html.encode(encoding))
    lean, reference = filing_sections(path), filing_sections(path, engine="bs4")
    assert lean.equals(reference)
    assert lean.text.str.split(" ").str[0].tolist() == [f"Company{quote}s", "Café"]
