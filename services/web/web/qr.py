"""QR codes drawn on the server as inline SVG (segno: pure Python, no image library, no
JavaScript), for the till's QRIS charge and the shopper's pick-up code.

Always a full QR code (`make_qr`), never a Micro QR: segno picks Micro QR for short payloads such
as a 6-character pick-up code, and most phone and till scanners cannot read those."""

from __future__ import annotations

import segno
from markupsafe import Markup, escape


def qr_svg(payload: str, label: str, scale: int = 4) -> Markup:
    """An accessible image (`role="img"`, a title): dark modules on white with the quiet zone
    scanners need, whatever the page's colours."""
    code = segno.make_qr(payload, error="m")
    svg = code.svg_inline(scale=scale, border=4, dark="#000", light="#fff", title=None, svgclass="qr")
    text = escape(label)
    # A viewBox, so that CSS can size the code for the screen (segno writes only width/height).
    size = code.symbol_size(scale=scale, border=4)
    opening = f'<svg role="img" aria-label="{text}" viewBox="0 0 {size[0]} {size[1]}" '
    # segno's output holds only drawing instructions (the payload is not written as text).
    return Markup(svg.replace("<svg ", opening, 1).replace(">", f"><title>{text}</title>", 1))
