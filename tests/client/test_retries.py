"""Reactive policy: what is retried, how long we wait, what is never retried."""

import time

import pytest

from pipedrive_client import (
    ApiError,
    AuthenticationError,
    ConfigError,
    DailyBudgetExhausted,
    NotFoundError,
    RateLimitError,
    WriteOutcomeUnknown,
)
from pipedrive_client import session as session_module

from .scripted_server import Reply

OK = Reply(body={"success": True, "data": {"id": 1}})
DEALS = "/api/v2/deals/1"


def test_5xx_is_retried_until_success(server, make_client) -> None:
    server.on(DEALS, Reply(503), Reply(502), Reply(500), OK)
    client = make_client()
    assert client.get(DEALS) == {"id": 1}
    assert len(server.requests_to(DEALS)) == 4
    assert client.stats.retries == 3


@pytest.mark.parametrize("mode", ["cutoff", "reset"])
def test_cut_off_bodies_and_resets_are_retried(server, make_client, mode: str) -> None:
    server.on(
        DEALS, Reply(body={"success": True, "data": {"id": 1, "x": "y" * 5000}}, mode=mode), OK
    )
    assert make_client().get(DEALS) == {"id": 1}
    assert len(server.requests_to(DEALS)) == 2


def test_non_json_body_is_retried(server, make_client) -> None:
    server.on(
        DEALS, Reply(200, body=b"<html>oops</html>", headers={"Content-Type": "text/html"}), OK
    )
    assert make_client().get(DEALS) == {"id": 1}
    assert len(server.requests_to(DEALS)) == 2


def test_backoff_is_bounded_by_max_tries(server, make_client) -> None:
    server.handler_for(DEALS, lambda q: Reply(503))
    client = make_client(max_tries=4)
    with pytest.raises(ApiError, match="still failing after 4 tries"):
        client.get(DEALS)
    assert len(server.requests_to(DEALS)) == 4


def test_backoff_is_bounded_by_total_wait(server, make_client) -> None:
    server.handler_for(DEALS, lambda q: Reply(503))
    client = make_client(
        max_tries=1000,
        max_retry_wait_seconds=1.0,
        backoff_base_seconds=0.2,
        backoff_cap_seconds=0.4,
    )
    started = time.monotonic()
    with pytest.raises(ApiError, match="still failing"):
        client.get(DEALS)
    assert time.monotonic() - started < 2.0


def test_waits_grow_exponentially_with_full_jitter(make_client) -> None:
    client = make_client(backoff_base_seconds=1.0, backoff_cap_seconds=8.0)
    gen = client.session._retry_waits()
    gen.send(None)
    waits = [gen.send(RuntimeError()) for _ in range(200)]
    # attempt n waits uniformly in [0, min(cap, base * 2**n)]
    assert all(0 <= w <= 1.0 for w in waits[:1])
    assert max(waits[3:]) <= 8.0
    assert max(waits[3:]) > 4.0  # the ceiling really reached 8 s
    assert len({round(w, 6) for w in waits}) > 150  # jittered, not fixed


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthenticationError), (404, NotFoundError), (400, ApiError), (403, ApiError)],
)
def test_client_errors_are_never_retried(server, make_client, status: int, error) -> None:
    server.handler_for(DEALS, lambda q: Reply(status, {"success": False, "error": "nope"}))
    with pytest.raises(error):
        make_client().get(DEALS)
    assert len(server.requests_to(DEALS)) == 1


def test_401_says_what_to_do(server, make_client) -> None:
    server.on(
        DEALS, Reply(401, {"success": False, "error": "unauthorized access", "errorCode": 401})
    )
    with pytest.raises(AuthenticationError, match="check api_token"):
        make_client().get(DEALS)


def test_retry_after_seconds_is_honoured(server, make_client) -> None:
    server.on(DEALS, Reply(429, {"success": False}, headers={"Retry-After": "1"}), OK)
    client = make_client()
    assert client.get(DEALS) == {"id": 1}
    first, second = server.requests_to(DEALS)
    assert second.at - first.at >= 1.0
    assert client.stats.statuses[429] == 1


def test_retry_after_http_date_is_honoured(server, make_client) -> None:
    from email.utils import formatdate

    when = formatdate(time.time() + 2, usegmt=True)
    server.on(DEALS, Reply(429, {"success": False}, headers={"Retry-After": when}), OK)
    make_client().get(DEALS)
    first, second = server.requests_to(DEALS)
    assert second.at - first.at >= 0.9  # the date has one-second resolution


def test_bare_429_waits_for_the_burst_window(server, make_client) -> None:
    server.on(DEALS, Reply(429, {"success": False}), OK)
    make_client().get(DEALS)
    first, second = server.requests_to(DEALS)
    assert second.at - first.at >= 1.9


def test_retry_after_longer_than_the_wait_budget_fails_fast(server, make_client) -> None:
    server.on(DEALS, Reply(429, {"success": False}, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimitError):
        make_client(max_retry_wait_seconds=5).get(DEALS)
    assert len(server.requests_to(DEALS)) == 1


def test_spent_daily_budget_raises_with_the_reset_time(server, make_client) -> None:
    server.on(
        DEALS,
        Reply(
            429,
            {"success": False},
            headers={
                "x-daily-ratelimit-token-remaining": "0",
                "x-daily-ratelimit-reset": "7260",
                "Retry-After": "7260",
            },
        ),
    )
    with pytest.raises(DailyBudgetExhausted, match="resets in 2 h 1 min") as caught:
        make_client().get(DEALS)
    assert caught.value.resets_in == 7260
    assert len(server.requests_to(DEALS)) == 1


def test_daily_budget_can_be_waited_for(server, make_client) -> None:
    server.on(
        DEALS,
        Reply(
            429,
            {"success": False},
            headers={"x-daily-ratelimit-token-remaining": "0", "x-daily-ratelimit-reset": "1"},
        ),
        OK,
    )
    client = make_client(wait_for_daily_budget=True)
    assert client.get(DEALS) == {"id": 1}
    assert client.stats.seconds_waited >= 1.0


def test_cdn_html_403_cools_down_then_retries(server, make_client, monkeypatch) -> None:
    monkeypatch.setattr(session_module, "CDN_COOL_DOWN_SECONDS", 0.5)
    server.on(
        DEALS, Reply(403, b"<html>slow down</html>", headers={"Content-Type": "text/html"}), OK
    )
    assert make_client().get(DEALS) == {"id": 1}
    first, second = server.requests_to(DEALS)
    assert second.at - first.at >= 0.5


def test_post_is_not_retried_when_the_server_may_have_acted(server, make_client) -> None:
    server.on("/api/v2/persons", Reply(502), OK)
    with pytest.raises(WriteOutcomeUnknown, match="may or may not have happened"):
        make_client().add_person(name="Ann")
    assert len(server.requests_to("/api/v2/persons")) == 1


def test_post_cut_off_is_not_retried(server, make_client) -> None:
    server.on(
        "/api/v2/persons",
        Reply(201, {"success": True, "data": {"id": 5, "n": "x" * 999}}, mode="cutoff"),
    )
    with pytest.raises(WriteOutcomeUnknown):
        make_client().add_person(name="Ann")
    assert len(server.requests_to("/api/v2/persons")) == 1


def test_post_is_retried_after_429(server, make_client) -> None:
    server.on(
        "/api/v2/persons",
        Reply(429, {"success": False}, headers={"Retry-After": "0"}),
        Reply(201, {"success": True, "data": {"id": 5}}),
    )
    assert make_client().add_person(name="Ann") == {"id": 5}
    assert len(server.requests_to("/api/v2/persons")) == 2


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_post_is_retried_when_the_connection_was_refused(server, make_client) -> None:
    client = make_client(max_tries=3)
    client.get(DEALS)  # the server has answered: a refusal now is a passing fault
    server.stop()
    client.session.close()  # drop the kept-alive connection, so the next one is refused
    with pytest.raises(ApiError, match="3 tries: connection refused"):
        client.add_person(name="Ann")
    assert client.stats.retries == 2


def test_connection_refused_before_any_answer_fails_at_once(make_client) -> None:
    """Nothing listens at api_url (a typo, a sandbox not started): say so in a second rather
    than retry for most of a minute."""
    client = make_client(
        api_url=f"http://127.0.0.1:{_closed_port()}",
        backoff_base_seconds=1.0,
        backoff_cap_seconds=8.0,
    )
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"cannot connect to 127\.0\.0\.1:\d+ .*api_url"):
        client.get(DEALS)
    assert time.monotonic() - started < 2.0
    assert client.stats.retries == 0


def test_waited_is_wall_time_not_a_sum_over_threads(server, make_client) -> None:
    """Four threads that each wait out the same 1 s pause waited 1 s of the run, not 4 s."""
    import threading

    client = make_client()
    client.session.pacer.pause(1.0)
    threads = [threading.Thread(target=client.get, args=(DEALS,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 0.9 <= client.stats.seconds_waited < 1.5


def test_each_retry_is_logged_once(server, make_client, caplog) -> None:
    server.on(DEALS, Reply(503), Reply(503), OK)
    with caplog.at_level("DEBUG"):
        make_client().get(DEALS)
    retries = [r for r in caplog.records if r.name in ("pipedrive_client", "backoff")]
    assert len(retries) == 2, [r.getMessage() for r in retries]


def test_token_costs_are_counted_per_operation(server, make_client) -> None:
    client = make_client()
    client.get("/api/v2/deals")  # list 10
    client.get(DEALS)  # get 1
    client.get("/api/v2/deals/archived")  # archived list 20
    client.get("/api/v1/notes")  # v1 list 20
    client.add_person(name="x")  # v2 create 5
    assert client.stats.tokens == 56
    assert client.stats.requests == 5


def test_requests_go_only_to_the_configured_host(server, make_client) -> None:
    from pipedrive_client import ConfigError

    client = make_client()
    with pytest.raises(ConfigError, match="refusing to send the API token"):
        client.session.get("http://localhost:9/api/v2/deals")
