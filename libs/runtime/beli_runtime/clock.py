"""Time and money presentation rules shared by every service.

Stored times are UTC; people in NTT read WITA (UTC+8); Midtrans speaks WIB (UTC+7).
"""

from datetime import UTC, datetime, timedelta, timezone

WITA = timezone(timedelta(hours=8), "WITA")
WIB = timezone(timedelta(hours=7), "WIB")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """MongoDB hands back naive UTC datetimes; make them aware again."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_wita(moment: datetime) -> str:
    return as_utc(moment).astimezone(WITA).strftime("%d-%m-%Y %H:%M WITA")


def format_rupiah(amount: int) -> str:
    """`Rp150.000`: Indonesian thousands separator, no minor unit."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(amount):,}".replace(",", ".")
