"""Filling a DataTable with columns as wide as their widest cell, measured in terminal cells."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable


def _width(cell: object) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


def fill_table(table: DataTable, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Replace the table's columns and rows, keeping the cursor row where it can.

    Widths are set here rather than left to DataTable's auto width, which measures on idle and can keep
    drawing the old, narrower columns when a table is refilled twice before that (Textual 8).
    """
    at = table.cursor_row
    table.clear(columns=True)
    for index, header in enumerate(headers):
        table.add_column(header, width=max([cell_len(header)] + [_width(row[index]) for row in rows]))
    for row in rows:
        table.add_row(*row)
    if rows:
        table.move_cursor(row=max(0, min(at, len(rows) - 1)))
