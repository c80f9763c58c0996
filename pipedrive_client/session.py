"""PacedSession: the one HTTP policy for the tap and the target.

A `requests.Session` whose `send` adds the auth header, refuses to send it to any other host,
waits for the burst window, retries what is safe to retry, counts the token cost, and turns
error answers into typed errors. The Singer SDK streams use it as their session; the target's
resource calls go through it too.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Generator
from typing import Any
from urllib.parse import urlsplit

import backoff
import requests

from .config import ClientConfig
from .costs import is_search, normalise_path, token_cost
from .errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    DailyBudgetExhausted,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    WriteOutcomeUnknown,
)
from .pacing import Pacer
from .stats import RunStats

logger = logging.getLogger("pipedrive_client")

# Daily budget headers differ between API generations and rollouts; read whichever is present.
DAILY_REMAINING_HEADERS = (
    "x-daily-ratelimit-token-remaining",
    "x-daily-tokens-left",
    "x-daily-requests-left",
)
DAILY_RESET_HEADERS = ("x-daily-ratelimit-reset", "x-daily-ratelimit-token-reset")
# How long to stay quiet after the CDN's HTML 403 ("slow down") when it names no time.
CDN_COOL_DOWN_SECONDS = 10.0
# Connections kept open to the API: one per thread that may read at once (the stream being
# written, the streams read ahead, the time windows of a large list), so none is opened anew.
CONNECTIONS_KEPT = 32
# POSTs that certainly were not acted on: refused before the connection was made.
_REFUSED_MARKERS = ("Connection refused", "NewConnectionError", "Errno 111")
_NAME_RESOLUTION_MARKERS = ("NameResolutionError", "Name or service not known", "getaddrinfo")


class _Retryable(Exception):
    """A failure worth another try; `retry_after` is the server's wish, if it said one."""

    def __init__(
        self,
        message: str,
        endpoint: str,
        retry_after: float | None = None,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.retry_after = retry_after
        self.rate_limited = rate_limited

    def final_error(self, tries: int) -> ApiError:
        cls = RateLimitError if self.rate_limited else ApiError
        return cls(
            f"{self.endpoint} still failing after {tries} tries: {self}. The API or the network "
            "is having trouble; run again later.",
            endpoint=self.endpoint,
        )


class _NoQueryInUrllib3Lines(logging.Filter):
    """urllib3 logs each request's path and query at DEBUG; a search's query carries a person's
    email address. Its lines keep the path only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(a, str) and "?" in a for a in record.args
        ):
            record.args = tuple(
                a.split("?", 1)[0] + "?..." if isinstance(a, str) and "?" in a else a
                for a in record.args
            )
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_NoQueryInUrllib3Lines())


def body_of(response: requests.Response) -> Any:
    """The parsed JSON body (parsed once, when the session checked it)."""
    if hasattr(response, "pipedrive_body"):
        return response.pipedrive_body
    return response.json()


class PacedSession(requests.Session):
    def __init__(self, config: ClientConfig, stats: RunStats | None = None) -> None:
        super().__init__()
        self.config = config
        self.base_url = config.base_url
        self._base_netloc = urlsplit(self.base_url).netloc
        self.stats = stats or RunStats()
        self.pacer = Pacer(
            limit=config.burst_limit,
            search_limit=config.search_requests_per_2s,
            store=config.budget_store,
            adopt_server_limit=not config.burst_limit_is_explicit,
        )
        if config.oauth_access_token:
            self._auth_headers = {"Authorization": f"Bearer {config.oauth_access_token}"}
        else:
            self._auth_headers = {"x-api-token": str(config.api_token)}
        self._secrets = [s for s in (config.api_token, config.oauth_access_token) if s]
        self._answered = False  # any answer yet from the server
        self.headers.update({"Accept": "application/json", "User-Agent": config.user_agent})
        self.trust_env = False  # a proxy from the environment must not see the token
        for scheme in ("https://", "http://"):
            self.mount(scheme, requests.adapters.HTTPAdapter(pool_maxsize=CONNECTIONS_KEPT))
        self._send_with_retries = backoff.on_exception(
            self._retry_waits,
            _Retryable,
            max_tries=config.max_tries,
            max_time=config.max_retry_wait_seconds,
            jitter=None,  # applied inside _retry_waits: Retry-After must not be shortened
            giveup=self._wait_is_too_long,
            on_backoff=self._on_backoff,
            raise_on_giveup=True,
            logger=None,  # _on_backoff logs each retry once
        )(self._send_once)

    # -- entry points -------------------------------------------------------------------------

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        """Like requests, but a path such as `/api/v2/deals` is resolved against the base URL."""
        if url.startswith("/"):
            url = self.base_url + url
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self._check_destination(str(request.url))
        request.headers.update(self._auth_headers)
        kwargs.setdefault("timeout", self.config.timeout_seconds)
        tries = {"n": 0}
        try:
            return self._send_with_retries(request, kwargs, tries)
        except _Retryable as exc:
            raise exc.final_error(tries["n"]) from None

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- one attempt --------------------------------------------------------------------------

    def _send_once(
        self, request: requests.PreparedRequest, kwargs: dict, tries: dict
    ) -> requests.Response:
        tries["n"] += 1
        if tries["n"] > 1:
            self.stats.wait_ended()  # the backoff sleep that _on_backoff began
        method = str(request.method).upper()
        path = normalise_path(urlsplit(str(request.url)).path)
        endpoint = f"{method} {path}"
        search = is_search(path)
        try:
            with self.stats.waiting():
                self.pacer.acquire(search)
            try:
                response = super().send(request, **kwargs)
            finally:
                self.pacer.settle(search)
        except requests.exceptions.ConnectionError as exc:
            self.stats.record_failed_attempt(endpoint)
            raise self._connection_failure(exc, method, endpoint) from None
        except (
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            self.stats.record_failed_attempt(endpoint)
            kind = (
                "timed out" if isinstance(exc, requests.exceptions.Timeout) else "body was cut off"
            )
            raise self._unsure(method, endpoint, kind) from None

        self._answered = True
        status = response.status_code
        self.stats.record_response(
            endpoint, status, 0 if status == 429 else token_cost(method, path)
        )
        self._observe_rate_headers(response)
        if status == 429:
            raise self._rate_limited(response, endpoint)
        if status == 403 and _is_html(response):
            self.pacer.pause(CDN_COOL_DOWN_SECONDS)
            raise _Retryable(
                "the CDN answered 403 (too many requests)",
                endpoint,
                retry_after=CDN_COOL_DOWN_SECONDS,
                rate_limited=True,
            )
        if status >= 500:
            raise self._unsure(method, endpoint, f"server error {status}")
        if status >= 400:
            raise self._client_error(response, endpoint)
        if response.content and urlsplit(str(request.url)).path.startswith(
            ("/api/", "/v1/", "/v2/")
        ):
            try:
                response.pipedrive_body = response.json()  # type: ignore[attr-defined]
            except ValueError:
                raise self._unsure(method, endpoint, "body was not JSON") from None
        return response

    # -- classification -----------------------------------------------------------------------

    def _connection_failure(self, exc: Exception, method: str, endpoint: str) -> Exception:
        text = str(exc)
        if any(m in text for m in _NAME_RESOLUTION_MARKERS):
            host = self._base_netloc
            return ConfigError(
                f"cannot resolve {host}: check company_domain (the part before .pipedrive.com) "
                "or api_url."
            )
        refused = any(m in text for m in _REFUSED_MARKERS)
        if refused and not self._answered:
            # Nothing listens there: a wrong api_url, or a sandbox that is not running. Retrying
            # for a minute would only hide that.
            return ConfigError(
                f"cannot connect to {self._base_netloc} (connection refused): check api_url or "
                "company_domain, and that the server is running."
            )
        if method == "POST" and not refused:
            return self._unsure(method, endpoint, "connection dropped")
        return _Retryable("connection refused" if refused else "connection dropped", endpoint)

    def _unsure(self, method: str, endpoint: str, what: str) -> Exception:
        """The server may have acted: retry reads, hand writes back to the caller."""
        if method == "POST":
            return WriteOutcomeUnknown(
                f"{endpoint}: {what}; the write may or may not have happened. Check for the "
                "object before writing it again.",
                endpoint=endpoint,
            )
        return _Retryable(what, endpoint)

    def _rate_limited(self, response: requests.Response, endpoint: str) -> Exception:
        daily_left = _first_number(response.headers, DAILY_REMAINING_HEADERS)
        retry_after = _retry_after(response.headers)
        if daily_left is not None and daily_left <= 0:
            resets_in = _first_number(response.headers, DAILY_RESET_HEADERS) or retry_after
            if self.config.wait_for_daily_budget and resets_in:
                # Hours, not seconds: wait here rather than through the bounded retry policy.
                logger.warning(
                    "Daily API token budget spent; waiting %s for it to reset.",
                    _human_duration(resets_in),
                )
                with self.stats.waiting():
                    time.sleep(resets_in)
                return _Retryable(
                    "daily budget was spent", endpoint, retry_after=0.0, rate_limited=True
                )
            when = f"in {_human_duration(resets_in)}" if resets_in else "at midnight UTC"
            return DailyBudgetExhausted(
                f"The company's daily Pipedrive API token budget is spent ({endpoint} answered "
                f"429); it resets {when}. Run again then, or set wait_for_daily_budget.",
                resets_in=resets_in,
                endpoint=endpoint,
            )
        reset = _first_number(response.headers, ("x-ratelimit-reset",))
        wait = retry_after if retry_after is not None else reset
        if wait is None:
            wait = 2.0  # a bare 429: the burst window is 2 s long
        self.pacer.pause(wait)
        return _Retryable("rate limited (429)", endpoint, retry_after=wait, rate_limited=True)

    def _client_error(self, response: requests.Response, endpoint: str) -> ApiError:
        status = response.status_code
        detail = self.redact(_error_text(response))
        if status == 401:
            return AuthenticationError(
                f"Pipedrive rejected the API token (401 on {endpoint}): check api_token; a newly "
                "generated token replaces the old one.",
                status=status,
                endpoint=endpoint,
            )
        if status == 403:
            return PermissionDeniedError(
                f"{endpoint} is not allowed for this token's user (403: {detail}).",
                status=status,
                endpoint=endpoint,
            )
        if status == 404:
            return NotFoundError(
                f"{endpoint} answered 404 ({detail}). If every call fails like this, check "
                "company_domain.",
                status=status,
                endpoint=endpoint,
            )
        return ApiError(f"{endpoint} answered {status}: {detail}", status=status, endpoint=endpoint)

    # -- retry plumbing -----------------------------------------------------------------------

    def _retry_waits(self) -> Generator[float, Any, None]:
        """Exponential backoff with full jitter, except where the server said how long."""
        failure = yield 0
        attempt = 0
        while True:
            if isinstance(failure, _Retryable) and failure.retry_after is not None:
                wait = failure.retry_after
            else:
                ceiling = min(
                    self.config.backoff_cap_seconds, self.config.backoff_base_seconds * 2**attempt
                )
                wait = random.uniform(0, ceiling)
            attempt += 1
            failure = yield wait

    def _wait_is_too_long(self, failure: Exception) -> bool:
        after = getattr(failure, "retry_after", None)
        return after is not None and after > self.config.max_retry_wait_seconds

    def _on_backoff(self, details: dict) -> None:
        failure = details.get("exception")
        self.stats.record_retry()
        self.stats.wait_began()  # ended when the next try starts
        logger.info(
            "Retrying %s in %.2f s (try %d): %s",
            getattr(failure, "endpoint", "?"),
            details["wait"],
            details["tries"],
            failure,
        )

    def _observe_rate_headers(self, response: requests.Response) -> None:
        headers = response.headers
        daily_left = _first_number(headers, DAILY_REMAINING_HEADERS)
        if daily_left is not None:
            self.stats.daily_tokens_left = daily_left
        self.pacer.observe(
            limit=_as_int(headers.get("x-ratelimit-limit")),
            remaining=_as_int(headers.get("x-ratelimit-remaining")),
            reset=_as_float(headers.get("x-ratelimit-reset")),
        )

    def _check_destination(self, url: str) -> None:
        if urlsplit(url).netloc != self._base_netloc:
            raise ConfigError(
                f"refusing to send the API token to {urlsplit(url).netloc}: requests go only to "
                f"{self._base_netloc}."
            )


# -- header helpers ---------------------------------------------------------------------------


def _as_float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _as_int(value: str | None) -> int | None:
    number = _as_float(value)
    return int(number) if number is not None else None


def _first_number(headers: Any, names: tuple[str, ...]) -> float | None:
    for name in names:
        number = _as_float(headers.get(name))
        if number is not None:
            return number
    return None


def _retry_after(headers: Any) -> float | None:
    """Retry-After in seconds, whether given as seconds or as an HTTP date."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    seconds = _as_float(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _is_html(response: requests.Response) -> bool:
    return "html" in response.headers.get("Content-Type", "").lower()


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or "no details"
    if isinstance(body, dict):
        parts = [str(body.get(k)) for k in ("error", "error_info") if body.get(k)]
        return "; ".join(parts) or response.reason or "no details"
    return response.reason or "no details"


def _human_duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"
