"""The programme dashboard's figures: the programme service's monthly answers turned into charts
and rows. Pure functions (no I/O), tested without a stack."""

from collections.abc import Mapping, Sequence
from typing import Any

from web.charts import Chart, Point, bar_chart, column_chart
from web.dashboard import MONTHS

Figures = Mapping[str, Any]


def short_month(month: str) -> str:
    """`2026-11` → `Nov 2026` (axis labels must stay short on a phone)."""
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1][:3]} {year}"


def percent(bps: int) -> str:
    """Basis points as the programme service writes them: 1234 → `12,34%`."""
    whole, rest = divmod(int(bps), 100)
    return f"{whole},{rest:02d}%"


def gmv_by_month(months: Sequence[Figures]) -> Chart:
    """Oldest month first: the direction people read a trend in."""
    points = [Point(short_month(m["month"]), int(m["gmv"]), f"{percent(m['gmv_target_share_bps'])} dari target") for m in months]
    return column_chart(
        "Nilai transaksi (GMV) per bulan",
        points,
        label_every=1,
        empty_message="Belum ada transaksi dalam bulan-bulan ini.",
        value_heading="GMV",
        note_heading="Capaian target",
    )


def spending_by_regency(figures: Figures) -> Chart:
    rows = figures.get("spending_by_seller_regency") or []
    points = sorted((Point(str(r["regency"]), int(r["gross"])) for r in rows), key=lambda p: (-p.value, p.label))
    return bar_chart(
        "Belanja menurut kabupaten/kota penjual",
        points,
        empty_message="Belum ada belanja bulan ini.",
        value_heading="Belanja",
    )


def month_rows(months: Sequence[Figures]) -> list[dict[str, Any]]:
    """The table under the charts: newest month first."""
    return [
        {
            "month": m["month"],
            "label": short_month(m["month"]),
            "gmv": m["gmv"],
            "target_share": percent(m["gmv_target_share_bps"]),
            "levy": m["pad_levy"],
            "ovop_share": percent(m["ovop_share_bps"]),
            "sellers": m["active_sellers"],
            "buyers": m["active_buyers"],
            "asn_share": percent(m["asn"]["share_bps"]),
        }
        for m in reversed(months)
    ]
