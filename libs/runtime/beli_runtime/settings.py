"""Settings every service shares; each service subclasses with its own."""

from pydantic_settings import BaseSettings, SettingsConfigDict

from beli_runtime.production import is_development, shared_secret_problems


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "beli"
    # `development` (and `test`) allow the committed development keys; anything else is
    # production: the service refuses to start with them or without its secrets.
    environment: str = "development"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongodb_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongodb_database: str = ""
    log_level: str = "INFO"

    # Handler failures are retried in place with backoff, then dead-lettered so that one poison
    # event never blocks its partition.
    consumer_max_attempts: int = 5
    consumer_retry_base_seconds: float = 0.2
    # Events a consumer handles at once, from different partitions (one partition's events stay
    # in order: they share their aggregate's key).
    consumer_concurrency: int = 8
    # Transactions a consumer writes at once, each with the events handed over meanwhile (inbox.py):
    # fewer means larger batches (fewer inbox inserts and commits), more means less waiting.
    consumer_batch_writers: int = 2
    # Background jobs (outbox relay, sweepers) run on one instance at a time, elected by a lease.
    lease_seconds: float = 10.0
    relay_poll_seconds: float = 0.5
    # The relay waits this long after being woken before it looks, so that the events of
    # transactions committing close together leave with one find and one delete (issue 11); it is
    # what an event's hop through the outbox gains in latency when the system is quiet.
    relay_gather_seconds: float = 0.03
    # A job that keeps finding nothing polls less and less often, down to once per this many
    # seconds (never less often than its own interval); the writes and events that create its
    # work wake it at once. Work that only time creates (a retry that falls due) waits at most this.
    job_idle_max_seconds: float = 4.0
    max_request_bytes: int = 64 * 1024

    @property
    def database_name(self) -> str:
        return self.mongodb_database or f"beli_{self.service_name}"

    @property
    def is_development(self) -> bool:
        return is_development(self.environment)

    def unsafe(self) -> list[str]:
        """Reasons this service must not start with these settings (checked by ServiceRuntime).
        Services add their own secrets by overriding this and extending the list."""
        return [] if self.is_development else shared_secret_problems()
