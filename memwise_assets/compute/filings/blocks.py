"""A filing's document as a list of text lines (one per paragraph, table row or heading).

Two HTML routes feed the same `LineBuilder`: a lean one, lxml's parser pushing events
straight into it (no tree, so memory stays near the text size), and the reference one,
BeautifulSoup's full DOM walked afterwards. Identical events give identical lines.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

from lxml import etree

from memwise_assets.compute.filings.source import Document

_BLOCK = frozenset(
    "address article aside blockquote body br center dd div dl dt footer form h1 h2 h3 h4 h5 h6"
    " header hr html li ol p pre section table tbody thead tfoot tr ul".split()
)
_CELL = frozenset(("td", "th"))
# Hidden inline-XBRL headers, scripts and styles carry no reader-visible text.
_SKIP = frozenset(("script", "style", "head", "title", "noscript", "template", "ix:header"))
_DISPLAY_NONE = re.compile(r"display\s*:\s*none", re.I)
_BREAK_BEFORE = re.compile(r"(?:page-)?break-before\s*:\s*(?:always|page)", re.I)
_BREAK_AFTER = re.compile(r"(?:page-)?break-after\s*:\s*(?:always|page)", re.I)
PAGE_BREAK = "\x0c"  # a line of its own; never real text (whitespace is collapsed)
_SHOWN, _HIDDEN, _BREAKS_AFTER = 0, 1, 2
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_FEED_BYTES = 1 << 16


class LineBuilder:
    """Parser target: turns start/end/data events into whitespace-normalised lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._cur: list[str] = []
        self._open: list[int] = []
        self._skip = 0
        self._pre = 0

    def _flush(self) -> None:
        if self._cur:
            text = "".join(self._cur)
            if not text.isascii():
                text = _ZERO_WIDTH.sub("", text)
            line = " ".join(text.split())
            self._cur.clear()
            if line:
                self.lines.append(line)

    def page_break(self) -> None:
        """Mark a page boundary, so running headers and footers can be told from text."""
        self._flush()
        if self.lines and self.lines[-1] != PAGE_BREAK:
            self.lines.append(PAGE_BREAK)

    def start(self, tag: str, attrib: Any) -> None:
        if self._skip:
            # Inside a hidden block (iXBRL headers hold thousands of elements): count only.
            self._open.append(_HIDDEN)
            self._skip += 1
            return
        style = attrib.get("style") if attrib else None
        # Substring tests first: the regexes on every styled span would dominate the parse.
        if style:
            low = style.lower()
            style = style if "none" in low or "break" in low else None
        if tag in _SKIP or (style and _DISPLAY_NONE.search(style)):
            self._open.append(_HIDDEN)
            self._skip += 1
            return
        self._open.append(_BREAKS_AFTER if style and _BREAK_AFTER.search(style) else _SHOWN)
        if tag == "hr" or (style and _BREAK_BEFORE.search(style)):
            self.page_break()
        if tag in _BLOCK:
            self._flush()
            if tag == "pre":
                self._pre += 1
        elif tag in _CELL:
            self._cur.append(" ")

    def end(self, tag: str) -> None:
        kind = self._open.pop() if self._open else _SHOWN
        if kind == _HIDDEN:
            self._skip -= 1
            return
        if kind == _BREAKS_AFTER:
            self.page_break()
        if tag in _BLOCK:
            self._flush()
            if tag == "pre" and self._pre:
                self._pre -= 1
        elif tag in _CELL:
            self._cur.append(" ")

    def data(self, text: str) -> None:
        if self._skip:
            return
        if self._pre and "\n" in text:
            *full, last = text.split("\n")
            for piece in full:
                self._cur.append(piece)
                self._flush()
            self._cur.append(last)
        else:
            self._cur.append(text)

    def close(self) -> list[str]:
        self._flush()
        return self.lines


class _SpanReader:
    """File-like `read(n)` over a document's byte slices, for lxml's pull parser."""

    def __init__(self, doc: Document) -> None:
        self._chunks = doc.chunks(_FEED_BYTES)
        self._rest = b""

    def read(self, size: int = -1) -> bytes:
        out = self._rest or next(self._chunks, b"")
        if 0 <= size < len(out):
            out, self._rest = out[:size], out[size:]
        else:
            self._rest = b""
        return out


def lines_lxml(doc: Document) -> list[str]:
    """Lines of an HTML document through lxml's event parser reading 64 KB slices.

    `etree.parse` on a reader lets libxml2 drop input it has consumed; its push interface
    (`parser.feed`) keeps the whole document buffered, about 1x the file.
    """
    builder = LineBuilder()
    parser = etree.HTMLParser(target=builder, encoding=doc.encoding, huge_tree=True)
    try:
        etree.parse(_SpanReader(doc), parser)
    except etree.LxmlError:
        # libxml2 gives up on documents with no markup at all: they have no lines then.
        pass
    # close() is idempotent: the parser has called it unless it gave up.
    return builder.close()


def _walk(node: Any, builder: LineBuilder) -> None:
    from bs4 import NavigableString, Tag

    # Explicit stack: old filings nest unclosed <font> tags deeper than Python recursion.
    stack: list[Iterator[Any]] = [iter(node.contents)]
    tags: list[str] = []
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            if tags:
                builder.end(tags.pop())
        elif isinstance(child, Tag):
            builder.start(child.name, child.attrs)
            tags.append(child.name)
            stack.append(iter(child.contents))
        elif type(child) is NavigableString:
            builder.data(str(child))


def lines_bs4(doc: Document) -> list[str]:
    """Lines of an HTML document through a full BeautifulSoup (lxml) DOM: the reference."""
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        # iXBRL files are XHTML; the HTML parser is what EDGAR renders them with.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(doc.text(), "lxml")
    builder = LineBuilder()
    _walk(soup, builder)
    return builder.close()
