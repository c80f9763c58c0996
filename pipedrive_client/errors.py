"""Typed errors. Each message is one line that says what went wrong and what to do.

Messages name the method and path of the failed call, never its query string or headers, so a
secret can not ride along into a log or a traceback.
"""

from __future__ import annotations


class PipedriveError(Exception):
    """Base class for everything the client raises on purpose."""


class ConfigError(PipedriveError):
    """A setting is missing or unsafe; raised before any request is made."""


class ApiError(PipedriveError):
    """The API answered with an error the caller has to deal with."""

    def __init__(self, message: str, *, status: int | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint


class AuthenticationError(ApiError):
    """401: the token is wrong, revoked or for another company."""


class PermissionDeniedError(ApiError):
    """403 with a JSON body: the token's user may not do this."""


class NotFoundError(ApiError):
    """404: no such record, or (on every call) no such company domain."""


class OddPageError(ApiError):
    """A list page kept answering without its records (`data: null`, a null body) or with a
    cursor that does not move: the listing stops rather than skip or loop."""


class RateLimitError(ApiError):
    """429 (or the CDN's HTML 403) that outlasted the retry budget."""


class DailyBudgetExhausted(RateLimitError):
    """The company's daily token budget is spent; waiting means hours, not seconds."""

    def __init__(self, message: str, *, resets_in: float | None, endpoint: str = "") -> None:
        super().__init__(message, status=429, endpoint=endpoint)
        self.resets_in = resets_in


class WriteOutcomeUnknown(ApiError):
    """A write failed in a way that does not tell whether the server acted on it.

    The client never repeats such a write by itself: the caller knows how to check for a
    duplicate (the target looks the object up again before creating it).
    """
