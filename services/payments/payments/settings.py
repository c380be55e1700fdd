"""The payments service's settings (environment variables): Midtrans keys and URLs, the default levy, jobs, the ledger signing key."""

from beli_runtime.settings import ServiceSettings

# The keys the development stack (infra/apps.py, docker-compose.yml) gives payments and the simulator.
DEVELOPMENT_MIDTRANS_KEYS = ("SB-Mid-server-beli-ntt-dev",)


class PaymentsSettings(ServiceSettings):
    service_name: str = "payments"
    # No built-in key: webhook signatures made with a known (or empty) key prove nothing.
    midtrans_server_key: str = ""
    midtrans_client_key: str = ""
    midtrans_is_production: bool = False
    # Empty means the SDK's own sandbox/production URLs; dev and tests point these at the simulator.
    midtrans_snap_base_url: str = ""
    midtrans_core_base_url: str = ""
    # Where Snap sends the shopper after paying: the web app's order page (`{order_id}` is filled
    # in). Empty: Midtrans's dashboard setting applies.
    snap_finish_url: str = ""
    midtrans_timeout_seconds: float = 8.0
    # Calls to Midtrans in flight at once (the SDK is synchronous: each one holds a thread).
    midtrans_concurrency: int = 8
    # Default PAD levy in basis points (100 bps = 1%) when no levy rule is configured.
    pad_levy_bps: int = 100
    link_retry_limit: int = 8
    # Snap expires at least this long before the order's deadline (the stock hold), so that the
    # settlement of a last-minute payment is confirmed while the units are still held.
    snap_expiry_margin_seconds: float = 120.0
    payment_job_seconds: float = 1.0
    # A step's links and settlements are written as Midtrans answers, in shared transactions: the
    # first answer waits at most this long for the step's others (one transaction, one lease fence
    # and one ledger append for them all instead of one per answer that happened to be ready).
    # 0.03 s, measured: three of four 2,000-order runs with 0.1 s fell to 8-10 paid orders/s for a
    # minute, one of seven with 0.03 s. Those minute-long falls were later traced to the development
    # database's TTL sweep holding a snapshot (fixed in infra/secantus_daemon.py), and a later run
    # with 0.1 s held at 26.83 paid orders/s: the linger is not what decides them (issue 11; README,
    # "7 December, evening" and "night").
    step_linger_seconds: float = 0.03
    # Under load, the jobs on the saga's path (opening links, acting on Midtrans's notifications)
    # wait this long after a wake-up before a step, so that one step takes the work of the wake-ups
    # that follow closely (beli_runtime.jobs: a lone wake-up in a quiet system is worked on at once).
    # 0.05 s, measured in alternating runs (issue 11; README, "ninth session"): at 25/s payments'
    # operations per paid order 4.7-4.9 -> 3.6-4.1 and place -> PAID p99 2.94-3.28 -> 1.73-2.28 s.
    step_gather_seconds: float = 0.05
    # A refund Midtrans did not answer is sent again after this, then with a doubling pause.
    refund_retry_seconds: float = 30.0
    # Ed25519 private key (PEM) that signs month-closing statements; the file path, or the PEM inline.
    ledger_signing_key_file: str = ""
    ledger_signing_key: str = ""

    def unsafe(self) -> list[str]:
        problems = super().unsafe()
        if not self.midtrans_server_key:
            problems.append("MIDTRANS_SERVER_KEY is not set (it signs and checks Midtrans notifications)")
        elif not self.is_development and self.midtrans_server_key in DEVELOPMENT_MIDTRANS_KEYS:
            problems.append("MIDTRANS_SERVER_KEY is the development simulator's key")
        return problems
