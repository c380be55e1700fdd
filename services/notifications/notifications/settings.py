"""The notifications service's settings (environment variables): SMTP, the WhatsApp/SMS provider, retries, finance addresses."""

from beli_runtime.settings import ServiceSettings

DEVELOPMENT_MESSAGING_TOKENS = ("dev-messaging-token",)


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"

    # E-mail goes out only when an SMTP server is configured; the in-app inbox always keeps it.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False  # STARTTLS after connecting (port 587)
    smtp_use_tls: bool = False  # implicit TLS from the first byte (port 465)
    smtp_sender: str = "Beli NTT <noreply@beli-ntt.id>"
    smtp_timeout_seconds: float = 10.0

    # WhatsApp and SMS go through one HTTP provider (POST {url}/v1/messages, Bearer token,
    # Idempotency-Key). Empty URL: those deliveries are marked skipped.
    messaging_provider_url: str = ""
    messaging_provider_token: str = ""
    messaging_timeout_seconds: float = 10.0

    # Who reads levy rule changes: comma-separated e-mail addresses.
    finance_emails: str = ""
    # Phone numbers without a country code are read as numbers of this region.
    default_phone_region: str = "ID"
    # A folder of edited templates that override the built-in ones, file by file.
    templates_dir: str = ""

    send_max_attempts: int = 6
    send_retry_base_seconds: float = 2.0
    send_retry_max_seconds: float = 300.0
    send_batch: int = 100
    # Sends in flight at once per channel: a slow message does not hold the ones behind it, and one
    # look's batch fits (a payday rush brings some 70 messages a second per channel).
    send_concurrency: int = 64
    send_job_seconds: float = 1.0
    # The sending job's looks for due messages are at least this far apart, so that under load one
    # look, one claim and one outcome write serve the messages of many events (issue 11).
    send_gather_seconds: float = 1.0

    @property
    def finance_recipients(self) -> list[str]:
        return [email.strip() for email in self.finance_emails.split(",") if email.strip()]

    def unsafe(self) -> list[str]:
        problems = super().unsafe()
        if self.is_development:
            return problems
        if self.messaging_provider_url and (
            not self.messaging_provider_token or self.messaging_provider_token in DEVELOPMENT_MESSAGING_TOKENS
        ):
            problems.append("MESSAGING_PROVIDER_TOKEN is not set (or is the development simulator's token)")
        if self.smtp_username and not self.smtp_password:
            problems.append("SMTP_PASSWORD is not set while SMTP_USERNAME is")
        return problems
