from beli_runtime.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    service_name: str = "payments"
    midtrans_server_key: str = "SB-Mid-server-beli-ntt-dev"
    midtrans_client_key: str = "SB-Mid-client-beli-ntt-dev"
    midtrans_is_production: bool = False
    # Empty means the SDK's own sandbox/production URLs; dev and tests point these at the simulator.
    midtrans_snap_base_url: str = ""
    midtrans_core_base_url: str = ""
    # Where Snap sends the shopper after paying: the web app's order page (`{order_id}` is filled
    # in). Empty: Midtrans's dashboard setting applies.
    snap_finish_url: str = ""
    midtrans_timeout_seconds: float = 8.0
    # Default PAD levy in basis points (100 bps = 1%) when no levy rule is configured.
    pad_levy_bps: int = 100
    link_retry_limit: int = 8
    # Snap expires at least this long before the order's deadline (the stock hold), so that the
    # settlement of a last-minute payment is confirmed while the units are still held.
    snap_expiry_margin_seconds: float = 120.0
    payment_job_seconds: float = 1.0
    # A refund Midtrans did not answer is sent again after this, then with a doubling pause.
    refund_retry_seconds: float = 30.0
