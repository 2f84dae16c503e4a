"""Markdown tables for the reports (`evaluate`, the circles experiment, `benchmark`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence], right_aligned: Sequence[int] = ()) -> list[str]:
    """The lines of a Markdown table: header, separator (``--:`` for the ``right_aligned`` columns), rows."""

    def line(cells: Iterable) -> str:
        return "| " + " | ".join(str(cell) for cell in cells) + " |"

    separator = "|" + "|".join("--:" if i in right_aligned else "---" for i in range(len(header))) + "|"
    return [line(header), separator, *(line(row) for row in rows)]
