from datetime import UTC, datetime

from beli_runtime.clock import format_rupiah, format_wita


def test_rupiah_uses_dot_thousands_and_no_minor_unit() -> None:
    assert format_rupiah(150000) == "Rp150.000"
    assert format_rupiah(1_234_567_890) == "Rp1.234.567.890"
    assert format_rupiah(0) == "Rp0"
    assert format_rupiah(-2500) == "-Rp2.500"


def test_times_are_shown_in_wita() -> None:
    assert format_wita(datetime(2026, 11, 23, 16, 30, tzinfo=UTC)) == "24-11-2026 00:30 WITA"
