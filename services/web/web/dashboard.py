"""The finance dashboard's figures: the payments service's summaries turned into charts.

Pure functions (no I/O), so the rules for what a chart shows are tested without a stack.
"""

import calendar
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from web.charts import Chart, Point, bar_chart, column_chart, fold_rest

WITA = timezone(timedelta(hours=8))
TOP_SELLERS = 10
CATEGORY_LABELS = {
    "tenun": "Tenun",
    "kopi": "Kopi",
    "madu": "Madu",
    "garam": "Garam",
    "pangan": "Pangan",
    "daging_olahan": "Daging olahan",
    "kelor": "Kelor",
    "mete": "Mete",
    "minyak_kelapa": "Minyak kelapa",
    "kerajinan": "Kerajinan",
    "lainnya": "Lainnya",
}
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember")

Row = Mapping[str, Any]


def current_period(now: datetime) -> str:
    """The WITA month it is now, `YYYY-MM`."""
    return now.astimezone(WITA).strftime("%Y-%m")


def month_name(period: str) -> str:
    year, month = period.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def shift_period(period: str, months: int) -> str:
    year, month = (int(part) for part in period.split("-"))
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_days(period: str) -> tuple[str, str]:
    """First and last WITA day of the month, for the `from`/`to` filters."""
    year, month = (int(part) for part in period.split("-"))
    return f"{period}-01", f"{period}-{calendar.monthrange(year, month)[1]:02d}"


def levy_per_day(period: str, rows: Sequence[Row]) -> Chart:
    """Every day of the month on the axis, days without sales at zero: gaps are information too."""
    by_day = {row["key"]: row for row in rows}
    _first, last = month_days(period)
    points = []
    for day in range(1, int(last[-2:]) + 1):
        key = f"{period}-{day:02d}"
        row = by_day.get(key)
        points.append(Point(key, int(row["levy"]) if row else 0, _entries(row)))
    return column_chart(
        f"PAD per hari, {month_name(period)}",
        points,
        empty_message="Belum ada PAD tercatat bulan ini.",
        value_heading="PAD",
        note_heading="Entri",
    )


def levy_per_regency(rows: Sequence[Row]) -> Chart:
    points = sorted((Point(str(row["key"]), int(row["levy"]), _entries(row)) for row in rows), key=lambda p: (-p.value, p.label))
    return bar_chart(
        "PAD per kabupaten/kota", points, empty_message="Belum ada PAD per kabupaten/kota.", value_heading="PAD", note_heading="Entri"
    )


def levy_per_category(rows: Sequence[Row]) -> Chart:
    points = sorted(
        (Point(CATEGORY_LABELS.get(str(row["key"]), str(row["key"])), int(row["levy"]), _entries(row)) for row in rows),
        key=lambda p: (-p.value, p.label),
    )
    return bar_chart("PAD per kategori", points, empty_message="Belum ada PAD per kategori.", value_heading="PAD", note_heading="Entri")


def top_sellers(rows: Sequence[Row], keep: int = TOP_SELLERS) -> Chart:
    """The sellers who brought the most PAD; the rest summed into one row."""
    points = [Point(str(row.get("seller_name") or row["key"]), int(row["levy"]), _entries(row)) for row in rows]
    return bar_chart(
        f"{keep} penjual teratas menurut PAD",
        fold_rest(points, keep, "Penjual lain"),
        empty_message="Belum ada penjual dengan PAD.",
        value_heading="PAD",
    )


def _entries(row: Row | None) -> str:
    return f"{row['entries']} entri" if row else ""
