"""The one retry policy: exponential backoff with jitter, from tenacity.

Used both for retries in place (the consumer waits, then calls the handler again) and for work
retried later (a job stores `next_attempt_at` on the item). Jitter keeps many items that failed
together (a Midtrans outage) from all coming back at the same instant.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from tenacity import RetryCallState, wait_exponential_jitter

from beli_runtime.clock import utcnow


@dataclass(frozen=True)
class Backoff:
    """After the n-th failure (n from 1): base·2^(n-1) plus up to `base` of jitter, at most `cap`."""

    base_seconds: float
    cap_seconds: float

    def seconds(self, attempt: int) -> float:
        wait = wait_exponential_jitter(multiplier=self.base_seconds, max=self.cap_seconds, jitter=self.base_seconds)
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = max(attempt, 1)
        return wait(state)

    def delay(self, attempt: int) -> timedelta:
        return timedelta(seconds=self.seconds(attempt))

    def next_attempt_at(self, attempt: int, now: datetime | None = None) -> datetime:
        return (now or utcnow()) + self.delay(attempt)
