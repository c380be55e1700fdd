from beli_runtime.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    service_name: str = "orders"
    payment_window_minutes: int = 60
    # Published promise: a repeated Idempotency-Key returns the first answer for at least this long.
    idempotency_key_hours: int = 24
    max_lines_per_order: int = 50
    max_quantity_per_line: int = 1000
