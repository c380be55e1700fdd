"""The orders service's settings (environment variables): order limits, deadlines, sweeps, hoarding limits."""

from beli_runtime.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    service_name: str = "orders"
    # Published promise: a repeated Idempotency-Key returns the first answer for at least this long.
    idempotency_key_hours: int = 24
    max_lines_per_order: int = 50
    max_quantity_per_line: int = 1000
    # The sweeper cancels orders stuck in the middle of the saga: no reservation answer after
    # this long, or no payment decision this long after the payment deadline.
    pending_timeout_minutes: int = 10
    payment_grace_minutes: int = 15
    sweep_seconds: float = 30.0
    # A sub-order SHIPPED for this long completes by itself (as if the shopper confirmed
    # receipt). A float so that tests can use seconds: 0.00005 days is about 4 s.
    auto_complete_days: float = 7.0
    auto_complete_sweep_seconds: float = 60.0
