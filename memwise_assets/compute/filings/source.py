"""Reading a filing: decompression, sanity checks, the SGML wrapper, encoding and form.

Everything here works on bytes with regular expressions so that a bad file is rejected
before any parser or spaCy touches it.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from memwise_assets.compute.filings.errors import FilingError

FORMS = ("10-K", "10-Q")
_HEAD_BYTES = 1 << 16
_BINARY_MAGIC = (b"%PDF", b"PK\x03\x04", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\x7fELF")
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\x0c")
_SUBMISSION_TYPE = re.compile(rb"CONFORMED SUBMISSION TYPE:\s*([^\s<]+)")
_DOCUMENT = re.compile(rb"<DOCUMENT>")
_TYPE = re.compile(rb"\s*<TYPE>[ \t]*([^\r\n<]*)")
_DEI_TYPE = re.compile(rb'name="dei:DocumentType"[^>]*>\s*(?:<[^>]*>\s*)*([^<\s]+)')
_HTML_MARK = re.compile(rb"<(?:html|body|div|p|font|br|td|tr|span)[\s>/]", re.I)
_HTML_OPEN = re.compile(rb"<html[\s>]", re.I)
_COVER_FORM = re.compile(rb"\bFORM\s*10-?\s*([KQ])", re.I)
_TAG = re.compile(rb"<[^>]*>")
_NBSP = re.compile(rb"&nbsp;|&#160;|&#xa0;", re.I)
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Document:
    """The primary 10-K/10-Q document of a filing file: a span of its bytes.

    `data` holds the file's bytes until `released()`; after that the span is read back
    from `path` (only ever set for uncompressed files) as it is consumed.
    """

    name: str
    data: bytes
    start: int
    end: int
    is_html: bool
    encoding: str
    form: str | None
    path: Path | None = None

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    def released(self) -> Document:
        """This document without its bytes in memory, when they can be re-read from disk."""
        return replace(self, data=b"") if self.path is not None else self

    def chunks(self, size: int) -> Iterator[bytes]:
        """The document's bytes in slices of at most `size`."""
        if self.data or self.path is None:
            view = memoryview(self.data)
            for i in range(self.start, self.end, size):
                yield bytes(view[i : min(i + size, self.end)])
            return
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            left = self.nbytes
            while left > 0:
                piece = handle.read(min(size, left))
                if not piece:
                    return
                left -= len(piece)
                yield piece

    def text(self) -> str:
        """The document decoded to str (costs 1-4x its size: only when really needed)."""
        raw = self.data[self.start : self.end] if self.data else b"".join(self.chunks(1 << 20))
        return raw.decode(self.encoding, errors="replace")


def normalise_form(value: str | bytes | None) -> str | None:
    """'10-K405', '10-k/a', b'10-Q' -> '10-K' / '10-Q'; anything else -> None."""
    if value is None:
        return None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    text = text.strip().upper().replace(" ", "")
    for form in FORMS:
        if text.startswith(form) or text.startswith(form.replace("-", "")):
            return form
    return None


# Filings compress about 10:1; past this ratio (and a floor for tiny files) a gzip is
# refused as a likely bomb before it is unpacked into memory.
MAX_GZIP_RATIO = 100
_GZIP_FLOOR_BYTES = 64 << 20


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip; unreadable files raise FilingError."""
    try:
        data = Path(path).read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = _gunzip_bounded(data, path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise FilingError("unreadable", f"cannot read filing {path}: {exc}") from exc
    return data


def _gunzip_bounded(data: bytes, path: str | Path) -> bytes:
    limit = max(_GZIP_FLOOR_BYTES, MAX_GZIP_RATIO * len(data))
    chunks, total = [], 0
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
        while chunk := stream.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise FilingError(
                    "unreadable",
                    f"filing {path} unpacks to more than {limit >> 20} MB from "
                    f"{len(data) >> 10} KB (over {MAX_GZIP_RATIO}:1); refusing a likely gzip bomb",
                )
            chunks.append(chunk)
    return b"".join(chunks)


def _stem(path: str | Path) -> str:
    name = Path(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    stem = Path(name).stem or "filing"
    return _ID_UNSAFE.sub("-", stem).strip("-") or "filing"


def id_for(path: str | Path, data: bytes) -> str:
    """`filing_id` of a file whose (decompressed) bytes are already in hand."""
    # The name makes ids readable, the content hash makes a changed file a new filing.
    return f"{_stem(path)}-{hashlib.blake2b(data, digest_size=5).hexdigest()}"


def filing_id(path: str | Path) -> str:
    """Stable id: the file name stem plus a short hash of the (decompressed) content."""
    return id_for(path, read_bytes(path))


def _check_text(data: bytes, path: str | Path) -> None:
    # isspace() stops at the first visible byte; strip() would copy the whole file.
    if not data or data.isspace():
        raise FilingError("empty", f"{path} is empty; expected a 10-K or 10-Q document")
    head = data[:_HEAD_BYTES]
    junk = len(head) - len(head.translate(None, _CONTROL))
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head or junk > 0.01 * len(head):
        raise FilingError(
            "binary", f"{path} looks binary; expected HTML or text of a 10-K or 10-Q filing"
        )


def _primary_span(data: bytes) -> tuple[int, int, bytes | None, bool]:
    """(start, end, TYPE, closed) of the first 10-K/10-Q <DOCUMENT>, or the whole file."""
    docs = [m.end() for m in _DOCUMENT.finditer(data)]
    if not docs:
        return 0, len(data), None, True
    chosen, chosen_type = docs[0], None
    for pos in docs:
        m = _TYPE.match(data, pos)
        doc_type = m.group(1).strip() if m else b""
        if normalise_form(doc_type):
            chosen, chosen_type = pos, doc_type
            break
        if pos == docs[0]:
            chosen_type = doc_type or None
    text_at = data.find(b"<TEXT>", chosen, chosen + 4096)
    start = text_at + len(b"<TEXT>") if text_at >= 0 else chosen
    end = data.find(b"</TEXT>", start)
    closed = end >= 0
    if not closed:
        end = data.find(b"<DOCUMENT>", start)
        end = len(data) if end < 0 else end
    return start, end, chosen_type, closed


def _encoding(data: bytes, start: int, end: int) -> str:
    if data.isascii():
        return "ascii"
    # Validate UTF-8 in slices so no decoded copy of the whole file is ever held.
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for i in range(start, end, 1 << 20):
            decoder.decode(data[i : min(i + (1 << 20), end)])
        decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252" if _cp1252_ok(data, start, end) else "iso-8859-1"


def _cp1252_ok(data: bytes, start: int, end: int) -> bool:
    # cp1252 leaves five bytes undefined; EDGAR's old files are cp1252 or latin-1.
    return not any(data.find(bytes([b]), start, end) >= 0 for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))


def _form_from(data: bytes, start: int, end: int, doc_type: bytes | None) -> str | None:
    m = _SUBMISSION_TYPE.search(data, 0, min(len(data), _HEAD_BYTES))
    for hint in (m.group(1) if m else None, doc_type):
        if hint:
            return normalise_form(hint) or f"?{hint.decode('ascii', 'replace')}"
    m = _DEI_TYPE.search(data, start, end)
    if m:
        return normalise_form(m.group(1)) or f"?{m.group(1).decode('ascii', 'replace')}"
    head = _NBSP.sub(b" ", _TAG.sub(b" ", data[start : min(end, start + 4 * _HEAD_BYTES)]))
    m = _COVER_FORM.search(head)
    return f"10-{m.group(1).upper().decode()}" if m else None


def open_document(path: str | Path, data: bytes | None = None) -> Document:
    """Check a filing and locate its primary document; bad input raises FilingError."""
    data = read_bytes(path) if data is None else data
    _check_text(data, path)
    start, end, doc_type, closed = _primary_span(data)
    is_html = _HTML_MARK.search(data, start, min(end, start + 4 * _HEAD_BYTES)) is not None
    if is_html and _HTML_OPEN.search(data, start, min(end, start + 4 * _HEAD_BYTES)):
        tail = data[max(start, end - 4096) : end].lower()
        closed = closed and b"</html" in tail
    if not closed:
        raise FilingError(
            "truncated", f"{path} ends before its document does (no closing </html> or </TEXT>)"
        )
    form = _form_from(data, start, end, doc_type)
    encoding = _encoding(data, start, end)
    # Same size on disk means these bytes are the file itself, not a gunzipped copy.
    on_disk = Path(path) if _file_size(path) == len(data) else None
    return Document(_stem(path), data, start, end, is_html, encoding, form, on_disk)


def _file_size(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return -1


def detect_form(path: str | Path) -> str:
    """'10-K' or '10-Q' from the SGML header, <TYPE>, dei:DocumentType or the cover page."""
    form = open_document(path).form
    if form not in FORMS:
        got = "nothing recognisable" if form is None else repr(form.lstrip("?"))
        raise FilingError("unknown-form", f"{path}: expected a 10-K or 10-Q filing; found {got}")
    return form
