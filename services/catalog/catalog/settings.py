"""The catalog's settings (environment variables): reservations, photos, accounts and tokens, login throttling."""

from beli_runtime.production import shared_secret_problems
from beli_runtime.settings import ServiceSettings
from catalog.accounts.throttle import Limits

DEVELOPMENT_ADMIN_PASSWORDS = ("admin-beli-ntt-dev",)


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    # The one deadline of an unpaid order: stock is held this long, the order must be paid before
    # it and Midtrans's Snap link expires a little earlier (payments' SNAP_EXPIRY_MARGIN_SECONDS).
    # Once paid, units are the shopper's (sold) with no expiry. Short, so that an unpaid order
    # does not keep a product off the market for long.
    unpaid_hold_minutes: float = 30.0
    # Anti-hoarding: units one shopper may hold in unpaid orders, per product and in all.
    hold_limit_per_product: int = 10
    hold_limit_per_shopper: int = 30
    reservation_sweep_seconds: float = 30.0
    # Photo uploads (≤ 2 MB plus multipart framing) are the only bodies allowed above 64 KiB.
    max_photo_request_bytes: int = 2 * 1024 * 1024 + 64 * 1024

    # The first operator account, created at start-up when no admin exists yet.
    bootstrap_admin_email: str = ""
    bootstrap_admin_password: str = ""

    # Login throttling (accounts): free failures per (account, address), per address and per
    # account, then locks doubling from the base up to the maximum; failures are forgotten after
    # the window. Behind a proxy set FORWARDED_ALLOW_IPS to its address so the caller's is seen.
    login_free_failures_per_account_and_address: int = 5
    login_free_failures_per_address: int = 20
    login_free_failures_per_account: int = 50
    login_lock_base_seconds: float = 30.0
    login_lock_max_seconds: float = 900.0
    login_failure_window_seconds: float = 900.0

    # A refresh token used again within this many seconds of its first use is the same client
    # refreshing from two parallel requests, not a stolen copy: it gets tokens, not a revocation.
    refresh_reuse_leeway_seconds: float = 2.0

    def login_limits(self) -> Limits:
        return Limits(
            per_account_and_address=self.login_free_failures_per_account_and_address,
            per_address=self.login_free_failures_per_address,
            per_account=self.login_free_failures_per_account,
            lock_base_seconds=self.login_lock_base_seconds,
            lock_max_seconds=self.login_lock_max_seconds,
            window_seconds=self.login_failure_window_seconds,
        )

    def unsafe(self) -> list[str]:
        if self.is_development:
            return []
        # The catalog signs tokens: its private key must not be the development one either.
        problems = shared_secret_problems(issues_tokens=True)
        if self.bootstrap_admin_password in DEVELOPMENT_ADMIN_PASSWORDS:
            problems.append("BOOTSTRAP_ADMIN_PASSWORD is the development password")
        return problems
