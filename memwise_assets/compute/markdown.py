"""Markdown tables for metadata the Dagster UI renders (per-ticker, per-filing reports)."""

from collections.abc import Mapping, Sequence


def md_table(rows: Sequence[Mapping[str, object]], max_cell: int = 200) -> str:
    """A Markdown table of `rows` (keys of the first row are the header)."""
    if not rows:
        return "_none_"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [_cell(row.get(h, ""), max_cell) for h in header]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: object, max_cell: int) -> str:
    return str(value).replace("|", "/").replace("\n", " ")[:max_cell]
