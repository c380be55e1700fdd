"""Messages rendered from Jinja2 template files, one per message kind and channel, so that the
province can edit the wording without a code change.

Layout: `templates/<kind>/subject.j2` (e-mail subject and inbox title), `email.txt.j2`,
`email.html.j2` (extends `_layout.html.j2`), `whatsapp.txt.j2`, `sms.txt.j2`. The in-app
inbox shows the subject and the plain-text e-mail. A folder given in TEMPLATES_DIR is searched
first, so an edited copy of any single file overrides the built-in one.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from beli_runtime.clock import format_rupiah, format_wita
from notifications.domain import Notice, month_name, percent

BUILT_IN = Path(__file__).parent / "templates"
PARTS = ("subject", "email.txt", "email.html", "whatsapp.txt", "sms.txt")
SMS_LIMIT = 160  # one GSM-7 segment: longer texts cost more and arrive split


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    whatsapp: str
    sms: str


def _scope(rule: Any) -> str:
    parts = []
    if rule.category:
        parts.append(f"kategori {rule.category}")
    if rule.regency:
        parts.append(f"kabupaten/kota {rule.regency}")
    return ", ".join(parts) or "semua produk di seluruh NTT"


def _one_line(text: str) -> str:
    return " ".join(text.split())


# WhatsApp has no escape character: `*bold*`, `_italic_`, `~strike~` and backquotes in typed-in
# text would format the message. Their look-alikes (asterisk operator, fullwidth low line, tilde
# operator, modifier grave) read the same and are never markup.
_WHATSAPP_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\uff3f", "~": "\u223c", "`": "\u02cb"})


def whatsapp_plain(text: str) -> str:
    """Typed-in text (any name, address or reason a person wrote) as WhatsApp shows it literally:
    one line (a line start could begin a quote or a list), no formatting characters."""
    return _one_line(text).translate(_WHATSAPP_LOOKALIKES)


def sms_plain(text: str, length: int) -> str:
    """Typed-in text for an SMS: one line, accents dropped to ASCII (one GSM-7 segment holds 160
    of those), at most `length` characters, cut between words where it can."""
    ascii_text = _one_line(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode())
    if len(ascii_text) <= length:
        return ascii_text
    words = ascii_text[: length + 1].rsplit(" ", 1)[0]
    return words if len(words) <= length else ascii_text[:length]


class Renderer:
    def __init__(self, override_dir: str | Path | None = None) -> None:
        folders = [Path(override_dir)] if override_dir else []
        self._env = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(folder)) for folder in [*folders, BUILT_IN]]),
            # HTML e-mail escapes what people typed (names, product names); text stays as typed.
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters |= {
            "rupiah": format_rupiah,
            "wita": format_wita,
            "percent": percent,
            "scope": _scope,
            "one_line": _one_line,
            "whatsapp_plain": whatsapp_plain,
            "sms_plain": sms_plain,
            "month_name": month_name,
        }

    def render(self, notice: Notice) -> Rendered:
        context = {"order_id": notice.order_id, **notice.context}

        def part(name: str) -> str:
            return self._env.get_template(f"{notice.kind}/{name}.j2").render(**context)

        return Rendered(
            subject=_one_line(part("subject")),
            text=part("email.txt"),
            html=part("email.html"),
            whatsapp=part("whatsapp.txt").strip(),
            sms=_one_line(part("sms.txt")),
        )
