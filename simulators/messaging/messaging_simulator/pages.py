"""The one page people read in dev: the latest e-mails and WhatsApp/SMS messages received."""

from __future__ import annotations

from html import escape
from typing import Any

from .settings import Settings

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{margin-top:2rem}article{border:1px solid #ddd;border-radius:.4rem;margin:.6rem 0;padding:.6rem}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.5rem;margin:.4rem 0}.meta{color:#666;font-size:.9rem}
details summary{cursor:pointer;color:#0b57d0}
"""


def _mail(item: dict[str, Any]) -> str:
    html = item.get("html")
    rendered = (
        f'<details><summary>Versi HTML</summary><iframe sandbox srcdoc="{escape(html)}" '
        f'style="width:100%;height:24rem;border:0"></iframe></details>'
        if html
        else ""
    )
    return (
        f"<article><b>{escape(item['subject'])}</b>"
        f"<div class=meta>kepada {escape(', '.join(item['to']))} · dari {escape(item['from'])} · {escape(item['received_at'])}</div>"
        f"<pre>{escape(item.get('text') or '')}</pre>{rendered}</article>"
    )


def _message(item: dict[str, Any]) -> str:
    return (
        f"<article><b>{escape(item['channel'].upper())}</b> ke {escape(item['to'])}"
        f"<div class=meta>{escape(item['received_at'])} · ref {escape(str(item.get('reference')))}</div>"
        f"<pre>{escape(item['text'])}</pre></article>"
    )


def home(mail: list[dict[str, Any]], messages: list[dict[str, Any]], settings: Settings) -> str:
    smtp = f"{settings.smtp_host}:{settings.smtp_port}" if settings.smtp_port else "mati"
    return f"""<!doctype html><html lang="id"><head><meta charset="utf-8"><title>Kotak pesan simulator</title>
<style>{_STYLE}</style></head><body>
<h1>Simulator pesan Beli NTT</h1>
<p class=meta>SMTP {escape(smtp)} · API penyedia WhatsApp/SMS: <code>POST /v1/messages</code> ·
JSON: <a href="/mail">/mail</a>, <a href="/v1/messages">/v1/messages</a></p>
<h2>E-mail ({len(mail)} terbaru)</h2>{"".join(_mail(m) for m in mail) or "<p>Belum ada e-mail.</p>"}
<h2>WhatsApp / SMS ({len(messages)} terbaru)</h2>{"".join(_message(m) for m in messages) or "<p>Belum ada pesan.</p>"}
</body></html>"""
