"""Settings every service shares; each service subclasses with its own."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "beli"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongodb_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongodb_database: str = ""
    log_level: str = "INFO"

    # Handler failures are retried in place with backoff, then dead-lettered so that one poison
    # event never blocks its partition.
    consumer_max_attempts: int = 5
    consumer_retry_base_seconds: float = 0.2
    # Background jobs (outbox relay, sweepers) run on one instance at a time, elected by a lease.
    lease_seconds: float = 10.0
    relay_poll_seconds: float = 0.5
    max_request_bytes: int = 64 * 1024

    @property
    def database_name(self) -> str:
        return self.mongodb_database or f"beli_{self.service_name}"
