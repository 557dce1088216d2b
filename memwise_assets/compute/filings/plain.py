"""Lines of plain-text filings (1990s full submissions): wrapped lines joined into paragraphs."""

from __future__ import annotations

import re

from memwise_assets.compute.filings.blocks import PAGE_BREAK
from memwise_assets.compute.filings.source import Document

# SGML table markup of old EDGAR text documents, not reader-visible text.
_MARKUP = re.compile(r"</?(?:PAGE|TABLE|CAPTION|S|C|FN|F\d+)>", re.I)
_PAGE = re.compile(r"^\s*<PAGE>", re.I)
_HEADING = re.compile(r"^\s*(?:items?\s*\d{1,2}[a-c]?\b|part\s+(?:iv|i{1,3})\b)", re.I)
# A heading line ending like this continues its title on the next line.
_CONTINUES = re.compile(r"(?:\b(?:and|of|the|in|on|for|to|or|with)|[,\-–—])\s*$", re.I)


def lines_plain(doc: Document) -> list[str]:
    """Paragraph lines of a plain-text document; headings always start a line of their own."""
    lines: list[str] = []
    para: list[str] = []
    heading = False

    def flush() -> None:
        if para:
            line = " ".join(" ".join(para).split())
            para.clear()
            if line:
                lines.append(line)

    for raw in doc.text().splitlines():
        if _PAGE.match(raw) or "\x0c" in raw:
            flush()
            heading = False
            if lines and lines[-1] != PAGE_BREAK:
                lines.append(PAGE_BREAK)
            raw = raw.replace("\x0c", " ")
        text = _MARKUP.sub(" ", raw).strip()
        if not text:
            flush()
            heading = False
            continue
        if _HEADING.match(text):
            flush()
            heading = True
        elif heading and not _CONTINUES.search(para[-1] if para else ""):
            flush()
            heading = False
        para.append(text)
    flush()
    return lines
