"""Reading roster/OPD files (CSV or XLSX) and writing exports (CSV or XLSX with a TOTAL row).

Exports go through beli_runtime.exports: every cell is text or a number, never a formula, so
names typed by people (an ASN called "=HYPERLINK(...)") never run in the office's spreadsheet."""

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from openpyxl import load_workbook

from beli_runtime import exports
from beli_runtime.exports import Table
from beli_runtime.http import ApiError
from programme.domain import header_map

Columns = dict[str, tuple[str, ...]]


class TableFile:
    """A CSV or XLSX file read row by row, never all at once (a roster of 150,000 rows is ~13 MB
    of CSV but several hundred MB as Python dicts). The header is checked when the file is
    opened; `rows()` can be walked more than once (the roster import walks it twice)."""

    def __init__(self, source: BinaryIO, filename: str, columns: Columns) -> None:
        self.source = source
        source.seek(0)
        head = source.readline()
        self.workbook = _open_workbook(source) if filename.lower().endswith(".xlsx") or head[:2] == b"PK" else None
        self.dialect = None if self.workbook else _dialect(head.decode("utf-8-sig", errors="replace"))
        header = next(self._raw_rows(), None)
        if header is None:
            raise ApiError(422, "berkas kosong", field="file")
        self.mapping = header_map(list(header), columns)
        missing = [field for field in columns if field not in self.mapping and field not in ("email", "phone")]
        if missing:
            raise ApiError(422, f"kolom wajib tidak ada: {', '.join(missing)}", field="file")

    def rows(self) -> Iterator[dict[str, str]]:
        """{field: text} for every non-empty row after the header."""
        raw = self._raw_rows()
        next(raw, None)
        items = list(self.mapping.items())
        for row in raw:
            if any(row):
                yield {field: _text(row[index]) if index < len(row) else "" for field, index in items}

    def column(self, field: str) -> Iterator[str]:
        """One field of every row after the header (blank rows give ""): a cheaper walk than rows()."""
        index = self.mapping[field]
        raw = self._raw_rows(index)
        next(raw, None)
        for row in raw:
            yield _text(row[index]) if index < len(row) else ""

    def _raw_rows(self, only: int | None = None) -> Iterator[Sequence[Any]]:
        """The file's rows as cells; with `only`, an XLSX reads that column alone (at its index)."""
        if self.workbook is not None:
            sheet = self.workbook.worksheets[0]
            if only is None:
                yield from sheet.iter_rows(values_only=True)
            else:
                padding = (None,) * only
                for cells in sheet.iter_rows(min_col=only + 1, max_col=only + 1, values_only=True):
                    yield padding + cells
            return
        self.source.seek(0)
        text = io.TextIOWrapper(self.source, encoding="utf-8-sig", errors="replace", newline="")
        try:
            yield from csv.reader(text, self.dialect or csv.excel)
        finally:
            text.detach()  # the upload stays open for the next walk


def read_table(content: bytes, filename: str, columns: Columns) -> list[dict[str, str]]:
    """Rows of the file as {field: text}; the first row is the header. For small files (OPDs)."""
    return list(TableFile(io.BytesIO(content), filename, columns).rows())


def _dialect(header: str) -> type[csv.Dialect] | csv.Dialect:
    """Comma, semicolon (Excel in Indonesian locales) or tab, as the header line shows."""
    try:
        return csv.Sniffer().sniff(header.rstrip("\r\n"), delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _open_workbook(source: BinaryIO) -> Any:
    source.seek(0)
    try:
        return load_workbook(source, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the sender's problem: a clear 422
        raise ApiError(422, f"berkas XLSX tidak dapat dibaca: {type(error).__name__}", field="file") from None


# Exports are rendered by the one export helper every service uses (beli_runtime.exports).


def to_csv(header: list[str], rows: list[list[Any]], total: list[Any] | None) -> bytes:
    return exports.to_csv(Table("", header, rows, total))


def to_xlsx(title: str, header: list[str], rows: list[list[Any]], total: list[Any] | None) -> bytes:
    return exports.to_xlsx(Table(title, header, rows, total))


def media_type(file_format: str) -> str:
    return exports.MEDIA_TYPES["xlsx" if file_format == "xlsx" else "csv"]
