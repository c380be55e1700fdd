from beli_runtime.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    # E-mail goes out only when an SMTP server is configured; messages are always kept in the inbox.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_sender: str = "Beli NTT <noreply@beli-ntt.id>"
    smtp_timeout_seconds: float = 10.0
    send_max_attempts: int = 6
    send_job_seconds: float = 1.0
