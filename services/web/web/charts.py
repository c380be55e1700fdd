"""Charts drawn on the server as SVG: no JavaScript and no chart library to download on a slow
connection, and the numbers stay readable for screen readers and text browsers.

Every chart is an accessible image (`role="img"`, `<title>`, `<desc>`) and carries its data as a
table (`table_html`) that the page shows under the picture: the table is the source of truth, the
picture only a view of it. Each mark also carries `data-label` / `data-value` (integer Rupiah) so
tests and scripts read exact figures without parsing the drawing.

The drawing is sized for a phone (a 360-unit wide viewBox, about one unit per CSS pixel at 390 px)
and scales up on wider screens; labels sit above the bars so long regency names never collide.
"""

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

WIDTH = 360
BAR_HEIGHT = 14
ROW_HEIGHT = 38  # label line + bar + gap
PAD = 8
_ids = itertools.count(1)


def rupiah(amount: int) -> str:
    """Rp150.000 — the dot is the thousands separator in Indonesia."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(amount):,}".replace(",", ".")


def compact_rupiah(amount: int) -> str:
    """Short axis labels: 12.500 → 12,5 rb; 3.400.000 → 3,4 jt; 2.000.000.000 → 2 M."""
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    for size, unit in ((1_000_000_000_000, "T"), (1_000_000_000, "M"), (1_000_000, "jt"), (1_000, "rb")):
        if value >= size:
            number = f"{value / size:.1f}".rstrip("0").rstrip(".").replace(".", ",")
            return f"{sign}{number} {unit}"
    return f"{sign}{value}"


@dataclass(frozen=True)
class Point:
    label: str
    value: int  # integer Rupiah (or a count)
    note: str = ""  # e.g. the number of entries, shown in the table only


@dataclass(frozen=True)
class Chart:
    """A drawn chart and the same data as rows: render `svg`, then `table_html`."""

    title: str
    points: list[Point]
    svg: Markup
    value_heading: str = "PAD"
    note_heading: str = ""
    chart_id: str = field(default="")

    @property
    def empty(self) -> bool:
        return not self.points or all(p.value == 0 for p in self.points)

    @property
    def total(self) -> int:
        return sum(p.value for p in self.points)

    def table_html(self, label_heading: str = "") -> Markup:
        note = self.note_heading
        head = f"<th scope='col'>{escape(label_heading or 'Uraian')}</th><th scope='col' class='num'>{escape(self.value_heading)}</th>"
        head += f"<th scope='col' class='num'>{escape(note)}</th>" if note else ""
        rows = "".join(
            f"<tr data-label='{escape(p.label)}' data-value='{p.value}'><th scope='row'>{escape(p.label)}</th>"
            f"<td class='num'>{escape(rupiah(p.value))}</td>" + (f"<td class='num'>{escape(p.note)}</td>" if note else "") + "</tr>"
            for p in self.points
        )
        foot = f"<tr><th scope='row'>Jumlah</th><td class='num'>{escape(rupiah(self.total))}</td>" + ("<td></td>" if note else "") + "</tr>"
        return Markup(
            f"<table class='chart-data' id='{self.chart_id}-data'><caption>{escape(self.title)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody><tfoot>{foot}</tfoot></table>"
        )


def fold_rest(points: Sequence[Point], keep: int, rest_label: str = "Lainnya") -> list[Point]:
    """The `keep` largest points, the others summed into one row: a chart of 200 sellers is unreadable."""
    ordered = sorted(points, key=lambda p: (-p.value, p.label))
    if len(ordered) <= keep:
        return ordered
    rest = ordered[keep:]
    return [*ordered[:keep], Point(f"{rest_label} ({len(rest)})", sum(p.value for p in rest))]


def _scale(values: Iterable[int]) -> tuple[int, int]:
    values = list(values)
    low, high = min([0, *values]), max([0, *values])
    return low, (high if high != low else low + 1)


def _open_svg(chart_id: str, title: str, description: str, height: int) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' id='{chart_id}' viewBox='0 0 {WIDTH} {height}' "
        f"role='img' aria-labelledby='{chart_id}-title {chart_id}-desc' preserveAspectRatio='xMinYMin meet'>"
        f"<title id='{chart_id}-title'>{escape(title)}</title><desc id='{chart_id}-desc'>{escape(description)}</desc>"
    )


def _empty_svg(chart_id: str, title: str, message: str) -> Markup:
    return Markup(
        _open_svg(chart_id, title, message, 60)
        + f"<text x='{WIDTH / 2}' y='34' text-anchor='middle' class='chart-empty' fill='#4a4a4a' font-size='13'>{escape(message)}</text></svg>"
    )


def _describe(title: str, points: Sequence[Point]) -> str:
    if not points:
        return f"{title}: belum ada data."
    top = max(points, key=lambda p: p.value)
    return f"{title}: {len(points)} baris, jumlah {rupiah(sum(p.value for p in points))}, tertinggi {top.label} {rupiah(top.value)}."


def bar_chart(title: str, points: Sequence[Point], *, empty_message: str = "Belum ada data.", **table: str) -> Chart:
    """Horizontal bars, one row per label (regencies, categories, sellers): reads well on a phone."""
    chart_id = f"chart-{next(_ids)}"
    points = list(points)
    if not points:
        return Chart(title, points, _empty_svg(chart_id, title, empty_message), chart_id=chart_id, **table)
    low, high = _scale(p.value for p in points)
    span = WIDTH - 2 * PAD
    zero = PAD + span * (-low) / (high - low)
    height = PAD + ROW_HEIGHT * len(points)
    parts = [_open_svg(chart_id, title, _describe(title, points), height)]
    for index, point in enumerate(points):
        top = PAD + index * ROW_HEIGHT
        length = span * abs(point.value) / (high - low)
        x = zero if point.value >= 0 else zero - length
        css = "chart-bar" if point.value >= 0 else "chart-bar chart-negative"
        colour = "#0b6e4f" if point.value >= 0 else "#b3261e"
        label = f"{point.label}: {rupiah(point.value)}"
        parts.append(
            f"<g class='chart-row'><text x='{PAD}' y='{top + 12}' font-size='12' fill='#1a1a1a'>{escape(point.label)}"
            f"<tspan font-weight='bold' dx='6'>{escape(compact_rupiah(point.value))}</tspan></text>"
            f"<rect class='{css}' x='{x:.1f}' y='{top + 17}' width='{max(length, 1.5):.1f}' height='{BAR_HEIGHT}' rx='2' fill='{colour}' "
            f"data-label='{escape(point.label)}' data-value='{point.value}'><title>{escape(label)}</title></rect></g>"
        )
    parts.append("</svg>")
    return Chart(title, points, Markup("".join(parts)), chart_id=chart_id, **table)


def column_chart(
    title: str, points: Sequence[Point], *, line: bool = False, label_every: int = 5, empty_message: str = "Belum ada data.", **table: str
) -> Chart:
    """Vertical columns (or a line) over an ordered axis, e.g. the days of a month."""
    chart_id = f"chart-{next(_ids)}"
    points = list(points)
    if not points or all(p.value == 0 for p in points):
        return Chart(title, points, _empty_svg(chart_id, title, empty_message), chart_id=chart_id, **table)
    height, left, bottom, top_pad = 200, 44, 22, 12
    plot_height = height - bottom - top_pad
    low, high = _scale(p.value for p in points)
    step = (WIDTH - left - PAD) / len(points)

    def y(value: int) -> float:
        return top_pad + plot_height * (high - value) / (high - low)

    parts = [_open_svg(chart_id, title, _describe(title, points), height)]
    for value in sorted({high, low, 0, (high + low) // 2}):
        parts.append(
            f"<line x1='{left}' x2='{WIDTH - PAD}' y1='{y(value):.1f}' y2='{y(value):.1f}' stroke='#c8c8c8' stroke-width='0.5'/>"
            f"<text x='{left - 4}' y='{y(value) + 4:.1f}' text-anchor='end' font-size='10' fill='#4a4a4a'>{escape(compact_rupiah(value))}</text>"
        )
    coordinates = []
    for index, point in enumerate(points):
        x = left + index * step
        label = f"{point.label}: {rupiah(point.value)}"
        if line:
            cx, cy = x + step / 2, y(point.value)
            coordinates.append(f"{cx:.1f},{cy:.1f}")
            mark = f"<circle class='chart-point' cx='{cx:.1f}' cy='{cy:.1f}' r='2.5' fill='#0b6e4f'"
        else:
            top, bottom_y = sorted((y(point.value), y(0)))
            fill = "#0b6e4f" if point.value >= 0 else "#b3261e"
            mark = (
                f"<rect class='chart-bar' x='{x + step * 0.15:.1f}' y='{top:.1f}' width='{step * 0.7:.1f}' "
                f"height='{max(bottom_y - top, 0.5):.1f}' fill='{fill}'"
            )
        parts.append(f"{mark} data-label='{escape(point.label)}' data-value='{point.value}'><title>{escape(label)}</title></{_tag(line)}>")
        if index % label_every == 0 or index == len(points) - 1:
            parts.append(
                f"<text x='{x + step / 2:.1f}' y='{height - 6}' text-anchor='middle' font-size='10' fill='#4a4a4a'>{escape(_short(point.label))}</text>"
            )
    if line and len(coordinates) > 1:
        parts.insert(1, f"<polyline points='{' '.join(coordinates)}' fill='none' stroke='#0b6e4f' stroke-width='1.5'/>")
    parts.append("</svg>")
    return Chart(title, points, Markup("".join(parts)), chart_id=chart_id, **table)


def _tag(line: bool) -> str:
    return "circle" if line else "rect"


def _short(label: str) -> str:
    """A day `2026-03-05` is labelled `5` on the axis; other labels stay as they are."""
    if len(label) == 10 and label[4] == "-" and label[7] == "-":
        return str(int(label[8:]))
    return label
