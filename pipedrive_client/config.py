"""Client settings: where to send requests, with which credentials, and how politely."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

# Requests per rolling 2-second window and API token, by plan (current and older plan names).
PLAN_BURST_LIMITS = {
    "lite": 20,
    "essential": 20,
    "growth": 40,
    "advanced": 40,
    "premium": 100,
    "professional": 80,
    "ultimate": 120,
    "enterprise": 120,
}
# Without a plan we start at the lowest plan's limit and adopt the limit the server announces.
DEFAULT_BURST_LIMIT = PLAN_BURST_LIMITS["lite"]
SEARCH_BURST_LIMIT = 10
BURST_WINDOW_SECONDS = 2.0

# A subdomain label: letters, digits and inner hyphens. Anything else (dots, slashes, a scheme,
# a port, "@") could redirect the token to another host.
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)


@dataclass(frozen=True)
class ClientConfig:
    api_token: str | None = field(default=None, repr=False)
    oauth_access_token: str | None = field(default=None, repr=False)
    company_domain: str | None = None
    api_url: str | None = None
    plan: str | None = None
    max_requests_per_2s: int | None = None
    search_requests_per_2s: int = SEARCH_BURST_LIMIT
    # Retry policy for transient failures (5xx, resets, timeouts, cut-off bodies, 429).
    max_tries: int = 8
    max_retry_wait_seconds: float = 300.0
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 60.0
    timeout_seconds: float = 60.0
    # How long a list page that answers without its records (`data: null`) is read again, with
    # the same backoff, before the listing fails (never taken as empty).
    odd_page_wait_seconds: float = 40.0
    # Sleep until the daily token budget resets instead of failing (hours, at worst).
    wait_for_daily_budget: bool = False
    # Share one burst budget between processes: sqlite:///path, redis://..., postgresql://...
    budget_store: str | None = None
    user_agent: str = "pipedrive-connectors/0.1"

    def __post_init__(self) -> None:
        if not (self.api_token or self.oauth_access_token):
            raise ConfigError(
                "api_token is missing: set it to the API token from Pipedrive > Personal "
                "preferences > API (or set oauth_access_token)."
            )
        if self.plan is not None and self.plan.lower() not in PLAN_BURST_LIMITS:
            raise ConfigError(
                f"plan '{self.plan}' is unknown: use one of {', '.join(PLAN_BURST_LIMITS)}."
            )
        if self.max_requests_per_2s is not None and self.max_requests_per_2s < 1:
            raise ConfigError("max_requests_per_2s must be a positive number of requests.")
        if self.max_tries < 1:
            raise ConfigError("max_tries must be at least 1.")
        _ = self.base_url  # validate now, not at the first request

    @property
    def base_url(self) -> str:
        if self.api_url:
            return _validated_api_url(self.api_url)
        if not self.company_domain:
            raise ConfigError(
                "company_domain is missing: set it to the part before .pipedrive.com in your "
                "Pipedrive address (or set api_url for a sandbox)."
            )
        return f"https://{_validated_domain(self.company_domain)}.pipedrive.com"

    @property
    def burst_limit(self) -> int:
        if self.max_requests_per_2s:
            return self.max_requests_per_2s
        if self.plan:
            return PLAN_BURST_LIMITS[self.plan.lower()]
        return DEFAULT_BURST_LIMIT

    @property
    def burst_limit_is_explicit(self) -> bool:
        return bool(self.max_requests_per_2s or self.plan)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ClientConfig:
        """Build from a tap/target config, ignoring settings that are not the client's."""
        kinds = {f.name: type(f.default) for f in fields(cls)}
        return cls(
            **{
                k: _as_kind(kinds[k], k, v)
                for k, v in settings.items()
                if k in kinds and v is not None
            }
        )


def _as_kind(kind: type, name: str, value: Any) -> Any:
    """Settings parsed from JSON carry numbers as Decimal (the SDK's parser), or as text from
    environment variables: seconds and counts become the float or int the client computes with."""
    if kind not in (float, int) or isinstance(value, bool):
        return value
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not '{value}'.") from None


def _validated_domain(domain: str) -> str:
    value = domain.strip().lower()
    value = value.removesuffix(".pipedrive.com")
    if not _DOMAIN_LABEL.match(value):
        raise ConfigError(
            f"company_domain '{domain}' is not a Pipedrive company name: give only the part "
            "before .pipedrive.com, without scheme, slashes or port (e.g. 'acme')."
        )
    return value


def _validated_api_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"api_url '{url}' must be an absolute http(s) URL.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("api_url must not carry credentials, a query or a fragment.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"api_url '{url}' uses plain http to a non-loopback host: the token would travel "
            "unencrypted. Use https, or http only for 127.0.0.1/localhost."
        )
    base = url.strip().rstrip("/")
    # Every request names its API generation (/api/v1/..., /api/v2/...): a base that already
    # ends in one would call /api/v2/api/v2/deals.
    for suffix in ("/api/v1", "/api/v2", "/api"):
        base = base.removesuffix(suffix)
    return base


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
