"""The Railway client's errors: one small hierarchy callers can branch on.

Messages are safe to log and to show an operator: they never carry the API token (the client
redacts server text before it lands here) and no HTTP request objects are chained to them.
"""

from __future__ import annotations


class RailwayError(Exception):
    """Something went wrong talking to Railway.

    `operation` is the GraphQL operation name, `status` the HTTP status when there was one,
    `retry_after` seconds to wait before trying again (when known), and `maybe_applied` is
    True when a mutation may have taken effect although no answer arrived (a timeout or a
    5xx after the request was sent): the caller must look before it tries again.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        maybe_applied: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.status = status
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied

    def __reduce__(self):  # picklable with its keyword arguments (Celery, multiprocessing)
        return (
            _rebuild,
            (
                type(self),
                self.message,
                self.operation,
                self.status,
                self.retry_after,
                self.maybe_applied,
            ),
        )

    def __str__(self) -> str:
        return f"{self.operation}: {self.message}" if self.operation else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, operation={self.operation!r})"


def _rebuild(cls, message, operation, status, retry_after, maybe_applied):
    return cls(
        message,
        operation=operation,
        status=status,
        retry_after=retry_after,
        maybe_applied=maybe_applied,
    )


class RateLimited(RailwayError):
    """The request budget is spent (Railway answered 429, or the shared budget says wait
    longer than the caller allows). `retry_after` says when to come back."""

    retryable = True


class Unauthorized(RailwayError):
    """Railway said "Not Authorized": a dead or wrong token, or no access to that resource
    (Railway sends the same message for both)."""


class NotFound(RailwayError):
    """The project, service, deployment or template does not exist (any more)."""


class Unavailable(RailwayError):
    """Railway could not be reached or answered with a server error, a timeout or a body that
    is not JSON, after the retries; or the circuit breaker is open and failing fast."""

    retryable = True


class InvalidRequest(RailwayError):
    """Railway rejected the request itself: a GraphQL validation error, a bad argument, or a
    business rule. Retrying the same request will not help."""
