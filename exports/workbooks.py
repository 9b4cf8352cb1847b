"""Pure XLSX writers: rows in, bytes out (openpyxl write-only mode; no database here).

Money is written as numbers with a currency format, user-typed text always as text (a value
starting with ``=`` never becomes a formula), headers are frozen, widths set, totals added.
Every table has an autofilter over its header and data rows (not the totals row) and prints
landscape on A4, fitted to the page's width (never a column split across pages), its header row
repeated on each page, with a footer naming the sheet and the page. All of it works in
openpyxl's write-only mode: the page setup, print titles and sheet properties are set before
the first row (they are written ahead of the rows), the autofilter's range once the rows are
counted (it is written after them).
Whatever a stored text holds, the workbook can be written: characters XML cannot carry (C0
controls, unpaired surrogates, U+FFFE/U+FFFF) become U+FFFD and a cell holds at most 32,767
characters (Excel's limit), so no row, old or new, can make a statement fail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

EUR_FORMAT = '#,##0.00 "EUR"'
AMOUNT_FORMAT = "#,##0.00"
RATE_FORMAT = "0.000000"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

#: Column kinds: how a value is written and formatted.
TEXT, EUR, AMOUNT, RATE, INT, DATE, DATETIME, BOOL = (
    "text",
    "eur",
    "amount",
    "rate",
    "int",
    "date",
    "datetime",
    "bool",
)
_FORMATS = {
    EUR: EUR_FORMAT,
    AMOUNT: AMOUNT_FORMAT,
    RATE: RATE_FORMAT,
    DATE: DATE_FORMAT,
    DATETIME: DATETIME_FORMAT,
}
_MONEY = (EUR, AMOUNT)
_CENT = Decimal("0.01")
_MICRO = Decimal("0.000001")


#: What an XML 1.0 document (and so openpyxl) cannot hold, besides tab, LF and CR.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MAX_CELL_CHARS = 32_767
_CUT_MARK = " […]"


def cell_text(value: object) -> str:
    """``value`` as text any workbook can hold (see the module's docstring)."""
    text = value if isinstance(value, str) else str(value)
    text = _NOT_XML.sub("\ufffd", text)
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - len(_CUT_MARK)] + _CUT_MARK
    return text


#: The narrowest width (in characters) that shows any value of a kind whole, totals included:
#: money up to 99,999,999.99 EUR, a rate 9999.999999, a date, a date and time, TRUE/FALSE.
_KIND_WIDTHS = {EUR: 17, AMOUNT: 14, RATE: 12, DATE: 11, DATETIME: 20, BOOL: 7, INT: 8}


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = TEXT
    width: int = 14
    total: bool = False

    @property
    def fitted_width(self) -> int:
        """The column's width: wide enough for its kind's values and for the longest word of
        its header (headers wrap), never narrower than the width it asks for."""
        longest_word = max(len(word) for word in self.header.split())
        return max(self.width, _KIND_WIDTHS.get(self.kind, 0), longest_word + 2)


@dataclass
class Sheet:
    """A sheet to write: columns and an iterable of rows.

    Money columns take integer cents; rate columns integer millionths; datetimes are UTC.
    """

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    totals_label: str = "Total"


@dataclass
class SheetResult:
    rows: int = 0
    sha256: str = ""
    totals: dict[str, int] = field(default_factory=dict)


def _convert(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind in _MONEY:
        return (Decimal(int(value)) / 100).quantize(_CENT)
    if kind == RATE:
        return (Decimal(int(value)) / 1_000_000).quantize(_MICRO)
    if kind == DATETIME:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if kind == TEXT:
        return cell_text(value)
    return value


class _RowWriter:
    """Writes rows to a write-only sheet.

    Formatted columns (money, rates, dates) go through one reusable styled cell per column:
    write-only sheets serialise a row as soon as it is appended, so reuse is safe and cheap.
    Plain numbers and text go as values; text that openpyxl would take for a formula (a
    leading ``=``) goes through a cell typed as text.
    """

    def __init__(self, ws: Any, columns: Sequence[Column]) -> None:
        self.ws = ws
        self.kinds = [c.kind for c in columns]
        self.cells: list[Any] = []
        self.text_cells: list[Any] = []
        for column in columns:
            cell = WriteOnlyCell(ws)
            if column.kind in _FORMATS:
                cell.number_format = _FORMATS[column.kind]
            self.cells.append(cell if column.kind in _FORMATS else None)
            self.text_cells.append(WriteOnlyCell(ws) if column.kind == TEXT else None)

    def write(self, values: Sequence[Any]) -> None:
        out: list[Any] = []
        for i, value in enumerate(values):
            kind = self.kinds[i]
            if value is None:
                out.append(None)
            elif kind == TEXT:
                text = cell_text(value)
                if text[:1] == "=":
                    cell = self.text_cells[i]
                    cell.value = text
                    cell.data_type = "s"  # text, never a formula
                    out.append(cell)
                else:
                    out.append(text)
            elif kind in (INT, BOOL):
                out.append(value)
            else:
                cell = self.cells[i]
                cell.value = _convert(kind, value)
                out.append(cell)
        self.ws.append(out)


def _print_setup(ws: Any, *, header_row: bool, one_page: bool = False) -> None:
    """Landscape A4, fitted to the page's width (``one_page``: to one page), the header row
    repeated on each page, a footer with the sheet's name and the page. Before the first row."""
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if one_page else 0  # 0: as many pages down as it takes
    ws.print_options.gridLines = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    if header_row:
        ws.print_title_rows = "1:1"
    ws.oddFooter.left.text = "&A"
    ws.oddFooter.right.text = "Page &P of &N"


def _fingerprint(values: Sequence[Any]) -> bytes:
    text = "\x1f".join("" if v is None else str(v) for v in values) + "\x1e"
    return text.encode("utf-8", "surrogatepass")  # a stored lone surrogate still hashes


def write_workbook(
    sheets: Sequence[Sheet],
    out: IO[bytes],
    *,
    properties: dict[str, str] | None = None,
    about: Callable[[dict[str, SheetResult]], list[tuple[str, Any]]] | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 5000,
) -> dict[str, SheetResult]:
    """Write ``sheets`` (and an "About" sheet from ``about``) as XLSX to ``out``.

    Returns, per sheet, its row count, the SHA-256 of its rows and its money totals (cents).
    """
    wb = Workbook(write_only=True)
    props = properties or {}
    for name in ("title", "subject", "description", "keywords"):
        value = props.get(name)
        setattr(wb.properties, name, cell_text(value)[:255] if value is not None else None)
    wb.properties.creator = cell_text(props.get("creator", "Pearl Grants"))[:255]
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE7F0")
    results: dict[str, SheetResult] = {}
    written = 0
    for sheet in sheets:
        ws = wb.create_sheet(sheet.title)
        ws.freeze_panes = "A2"  # before the first append, or openpyxl ignores it
        _print_setup(ws, header_row=True)
        for index, column in enumerate(sheet.columns, start=1):
            ws.column_dimensions[get_column_letter(index)].width = column.fitted_width
        header = []
        for column in sheet.columns:
            cell = WriteOnlyCell(ws, value=column.header)
            cell.font = header_font
            cell.fill = header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            header.append(cell)
        ws.append(header)
        writer = _RowWriter(ws, sheet.columns)
        digest = hashlib.sha256()
        totals = {c.header: 0 for c in sheet.columns if c.total}
        total_index = [(i, c.header) for i, c in enumerate(sheet.columns) if c.total]
        count = 0
        for row in sheet.rows:
            writer.write(row)
            digest.update(_fingerprint(row))
            for i, name in total_index:
                totals[name] += row[i] or 0
            count += 1
            written += 1
            if progress and written % progress_every == 0:
                progress(written)
        last = get_column_letter(len(sheet.columns))
        ws.auto_filter.ref = f"A1:{last}{count + 1}"  # header and data rows, not the totals
        # The table is what prints: a long text in the last column spilling into the empty
        # cells to its right would widen the page (and shrink the print) otherwise.
        ws.print_area = f"A1:{last}{count + 1 + bool(totals)}"
        if totals:
            label = [None] * len(sheet.columns)
            label[0] = sheet.totals_label
            for i, name in total_index:
                label[i] = totals[name]
            bold = Font(bold=True)
            total_cells = []
            for column, value in zip(sheet.columns, label, strict=True):
                cell = WriteOnlyCell(ws, value=_convert(column.kind, value) if value else value)
                if column.kind in _FORMATS:
                    cell.number_format = _FORMATS[column.kind]
                cell.font = bold
                total_cells.append(cell)
            ws.append(total_cells)
        results[sheet.title] = SheetResult(count, digest.hexdigest(), totals)
    if about is not None:
        ws = wb.create_sheet("About")
        _print_setup(ws, header_row=False, one_page=True)  # a list of facts: no header row
        ws.column_dimensions["A"].width = 34
        ws.column_dimensions["B"].width = 70
        for key, value in about(results):
            name = WriteOnlyCell(ws, value=key)
            name.font = Font(bold=True)
            cell = WriteOnlyCell(ws, value=cell_text(value) if isinstance(value, str) else value)
            if isinstance(value, str):
                cell.data_type = "s"
            elif isinstance(value, dt.datetime):
                cell.value = value.astimezone(dt.UTC).replace(tzinfo=None)
                cell.number_format = DATETIME_FORMAT
            ws.append([name, cell])
    wb.save(out)
    return results
