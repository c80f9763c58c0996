"""The paced Pipedrive REST client shared by tap-pipedrive and target-pipedrive."""

from .client import PipedriveClient
from .config import PLAN_BURST_LIMITS, ClientConfig
from .costs import token_cost
from .errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    DailyBudgetExhausted,
    NotFoundError,
    OddPageError,
    PermissionDeniedError,
    PipedriveError,
    RateLimitError,
    WriteOutcomeUnknown,
)
from .pagination import Page, iter_v1_pages, iter_v2_pages
from .read_ahead import ReadAhead, read_ahead
from .session import PacedSession, body_of
from .stats import PartStats, RunStats, attributed, counted_to

__all__ = [
    "PLAN_BURST_LIMITS",
    "ApiError",
    "AuthenticationError",
    "ClientConfig",
    "ConfigError",
    "DailyBudgetExhausted",
    "NotFoundError",
    "OddPageError",
    "PacedSession",
    "Page",
    "PartStats",
    "PermissionDeniedError",
    "PipedriveClient",
    "PipedriveError",
    "RateLimitError",
    "ReadAhead",
    "RunStats",
    "WriteOutcomeUnknown",
    "attributed",
    "body_of",
    "counted_to",
    "iter_v1_pages",
    "iter_v2_pages",
    "read_ahead",
    "token_cost",
]
