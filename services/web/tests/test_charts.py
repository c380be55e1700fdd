"""Server-side SVG charts: exact figures in the marks and the table, accessible markup, and the
empty, negative and many-row cases a finance officer will meet."""

import re
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime

from web.charts import Point, bar_chart, column_chart, compact_rupiah, fold_rest, rupiah
from web.dashboard import current_period, levy_per_category, levy_per_day, levy_per_regency, month_days, shift_period, top_sellers

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(str(markup))


def marks(markup: str) -> dict[str, int]:
    root = parse(markup)
    return {
        element.get("data-label"): int(element.get("data-value"))
        for element in root.iter()
        if element.get("data-value") is not None and element.tag in (f"{SVG}rect", f"{SVG}circle")
    }


def test_rupiah_uses_dots_for_thousands() -> None:
    assert rupiah(150000) == "Rp150.000"
    assert rupiah(0) == "Rp0"
    assert rupiah(-2500) == "-Rp2.500"
    assert compact_rupiah(12_500) == "12,5 rb"
    assert compact_rupiah(3_000_000) == "3 jt"
    assert compact_rupiah(2_400_000_000) == "2,4 M"
    assert compact_rupiah(999) == "999"


def test_bar_chart_is_an_accessible_image_with_exact_values() -> None:
    chart = bar_chart("PAD per kabupaten/kota", [Point("Ngada", 12_500), Point("Sumba Timur", 8_000)])
    root = parse(chart.svg)
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == "PAD per kabupaten/kota"
    assert root.get("aria-labelledby") == f"{title.get('id')} {root.find(f'{SVG}desc').get('id')}"
    assert "Rp20.500" in root.find(f"{SVG}desc").text
    assert marks(chart.svg) == {"Ngada": 12_500, "Sumba Timur": 8_000}
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect")]
    assert widths[0] > widths[1] > 0


def test_the_table_holds_the_same_figures_and_a_total() -> None:
    chart = bar_chart("PAD per kategori", [Point("Kopi", 1_000, "2 entri"), Point("Tenun", 500, "1 entri")], note_heading="Entri")
    table = str(chart.table_html("Kategori"))
    assert "<caption>PAD per kategori</caption>" in table
    assert re.findall(r"data-value='(-?\d+)'", table) == ["1000", "500"]
    assert "Rp1.500" in table and "2 entri" in table and ">Kategori<" in table


def test_labels_are_escaped() -> None:
    chart = bar_chart("Penjual", [Point("<script>alert(1)</script> & Co", 10)])
    assert "<script>" not in str(chart.svg) and "<script>" not in str(chart.table_html())
    assert marks(chart.svg) == {"<script>alert(1)</script> & Co": 10}


def test_empty_charts_say_so_instead_of_drawing_nothing() -> None:
    for chart in (
        bar_chart("Kosong", [], empty_message="Belum ada PAD."),
        column_chart("Kosong", [Point("2026-03-01", 0)], empty_message="Belum ada PAD."),
    ):
        assert chart.empty
        assert "Belum ada PAD." in str(chart.svg)
        parse(chart.svg)  # still well-formed


def test_negative_values_draw_left_of_zero_in_another_colour() -> None:
    chart = bar_chart("PAD", [Point("Alor", 1_000), Point("Belu", -400)])
    rects = {r.get("data-label"): r for r in parse(chart.svg).iter(f"{SVG}rect")}
    assert float(rects["Belu"].get("x")) < float(rects["Alor"].get("x"))
    assert "chart-negative" in rects["Belu"].get("class")


def test_many_rows_fold_into_one() -> None:
    points = [Point(f"Penjual {i:03d}", i) for i in range(1, 201)]
    folded = fold_rest(points, 10, "Penjual lain")
    assert len(folded) == 11
    assert folded[0] == Point("Penjual 200", 200)
    assert folded[-1].label == "Penjual lain (190)" and sum(p.value for p in folded) == sum(range(1, 201))


def test_every_day_of_the_month_is_on_the_axis() -> None:
    chart = levy_per_day("2026-02", [{"key": "2026-02-03", "levy": 7_500, "entries": 3}, {"key": "2026-02-28", "levy": 100, "entries": 1}])
    values = marks(chart.svg)
    assert len(values) == 28
    assert values["2026-02-03"] == 7_500 and values["2026-02-01"] == 0 and values["2026-02-28"] == 100
    assert "Februari 2026" in chart.title
    line = column_chart("Garis", [Point("a", 1), Point("b", 3)], line=True)
    assert marks(line.svg) == {"a": 1, "b": 3} and "<polyline" in str(line.svg)


def test_breakdowns_sort_by_levy_and_name_categories_in_indonesian() -> None:
    rows = [{"key": "kopi", "levy": 100, "entries": 1}, {"key": "daging_olahan", "levy": 900, "entries": 2}]
    assert list(marks(levy_per_category(rows).svg)) == ["Daging olahan", "Kopi"]
    regencies = levy_per_regency([{"key": "Alor", "levy": 1, "entries": 1}, {"key": "Ngada", "levy": 5, "entries": 1}])
    assert list(marks(regencies.svg)) == ["Ngada", "Alor"]
    sellers = top_sellers([{"key": f"slr-{i}", "seller_name": f"Toko {i}", "levy": i, "entries": 1} for i in range(15)], keep=3)
    assert list(marks(sellers.svg)) == ["Toko 14", "Toko 13", "Toko 12", "Penjual lain (12)"]


def test_periods() -> None:
    assert current_period(datetime(2026, 2, 28, 17, 0, tzinfo=UTC)) == "2026-03"  # already March in WITA
    assert shift_period("2026-01", -1) == "2025-12" and shift_period("2025-12", 1) == "2026-01"
    assert month_days("2024-02") == ("2024-02-01", "2024-02-29")
