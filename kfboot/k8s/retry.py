"""Which API failures are worth retrying, and how: capped exponential backoff with jitter.

Transient: 429 (honouring Retry-After), 5xx, connection resets/drops and timeouts. Everything else
(4xx validation, forbidden, not found) is a real answer and is raised at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class ApiError(Exception):
    """A non-2xx answer from the API server, with the server's own message."""

    def __init__(self, status: int, reason: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        return exc.status in RETRYABLE_STATUS
    import urllib3.exceptions

    transient = (
        urllib3.exceptions.ProtocolError,
        urllib3.exceptions.TimeoutError,
        urllib3.exceptions.NewConnectionError,
        urllib3.exceptions.MaxRetryError,
        ConnectionError,
        TimeoutError,
    )
    return isinstance(exc, transient)


def call_with_retries(
    fn: Callable[[], T],
    *,
    attempts: int = 8,
    max_delay: float = 60.0,
    initial: float = 0.1,
    cap: float = 5.0,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Run fn, retrying transient failures; a server's Retry-After wins over our own backoff."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay
    from tenacity.wait import wait_exponential_jitter

    backoff = wait_exponential_jitter(multiplier=initial, max=cap, jitter=initial)

    def wait(state) -> float:  # type: ignore[no-untyped-def]
        exc = state.outcome.exception() if state.outcome else None
        delay = backoff(state)
        if isinstance(exc, ApiError) and exc.retry_after is not None:
            delay = min(max(exc.retry_after, 0.0), cap * 6)
        return delay

    def before_sleep(state) -> None:  # type: ignore[no-untyped-def]
        if on_retry and state.outcome is not None:
            exc = state.outcome.exception()
            if exc is not None:
                on_retry(exc, state.next_action.sleep if state.next_action else 0.0)

    retrying = Retrying(
        retry=retry_if_exception(is_transient),
        wait=wait,
        stop=stop_after_attempt(attempts) | stop_after_delay(max_delay),
        reraise=True,
        before_sleep=before_sleep,
    )
    return retrying(fn)
