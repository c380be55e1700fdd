from beli_runtime.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    # Held stock goes back on sale if no payment decision arrives in time. It outlives the
    # payment deadline (orders' PAYMENT_WINDOW_MINUTES, 60 by default) so that a shopper who
    # pays at the last minute still gets the goods.
    reservation_ttl_minutes: int = 75
    reservation_sweep_seconds: float = 30.0
    # Photo uploads (≤ 2 MB plus multipart framing) are the largest bodies the catalog takes.
    max_request_bytes: int = 2 * 1024 * 1024 + 64 * 1024

    # The first operator account, created at start-up when no admin exists yet.
    bootstrap_admin_email: str = ""
    bootstrap_admin_password: str = ""
