"""Where the web app finds the services, and how it signs its session cookie."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    catalog_url: str = "http://127.0.0.1:8001"
    orders_url: str = "http://127.0.0.1:8002"
    payments_url: str = "http://127.0.0.1:8003"
    notifications_url: str = "http://127.0.0.1:8004"
    programme_url: str = "http://127.0.0.1:8007"
    # The address shoppers reach this app at: Midtrans sends them back to it after paying.
    web_public_url: str = "http://127.0.0.1:8000"
    # Encrypts and authenticates the session cookie. The default is for development only:
    # production sets its own (any long random string), or anyone could forge sessions.
    web_session_secret: str = "beli-ntt-dev-only-session-secret-change-me"
    # Force the Secure flag (behind a TLS-terminating proxy that does not say X-Forwarded-Proto).
    web_cookie_secure: bool = False
    backend_timeout_seconds: float = 10.0
    log_level: str = "INFO"

    def service_urls(self) -> dict[str, str]:
        return {
            "catalog": self.catalog_url.rstrip("/"),
            "orders": self.orders_url.rstrip("/"),
            "payments": self.payments_url.rstrip("/"),
            "notifications": self.notifications_url.rstrip("/"),
            "programme": self.programme_url.rstrip("/"),
        }
