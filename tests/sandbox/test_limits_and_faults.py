"""Rate limits, the daily budget, accounting, and every fault kind."""

import requests

from .helpers import call, get


def test_rate_limit_headers_and_429_with_retry_after(sandbox_factory) -> None:
    sb = sandbox_factory(plan=5)
    statuses = [call(sb, "GET", "/api/v2/deals/1") for _ in range(6)]
    assert [r.status_code for r in statuses] == [200] * 5 + [429]
    assert statuses[0].headers["x-ratelimit-limit"] == "5"
    assert statuses[0].headers["x-ratelimit-remaining"] == "4"
    assert int(statuses[-1].headers["Retry-After"]) >= 1
    assert statuses[-1].headers["x-ratelimit-remaining"] == "0"


def test_search_has_a_lower_limit(sandbox_factory) -> None:
    sb = sandbox_factory(plan="premium")
    codes = [
        call(
            sb, "GET", "/api/v2/persons/search", params={"term": "x@y.z", "exact_match": "true"}
        ).status_code
        for _ in range(11)
    ]
    assert codes.count(429) == 1
    assert codes[-1] == 429


def test_sustained_abuse_gets_the_cdn_html_403(sandbox_factory) -> None:
    sb = sandbox_factory(plan=2)
    codes = [call(sb, "GET", "/api/v2/deals/1") for _ in range(12)]
    blocked = [r for r in codes if r.status_code == 403]
    assert blocked
    assert "text/html" in blocked[0].headers["Content-Type"]


def test_daily_budget_runs_out(sandbox_factory) -> None:
    sb = sandbox_factory(daily_budget=25)
    codes = [call(sb, "GET", "/api/v2/deals").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    last = call(sb, "GET", "/api/v2/deals")
    assert last.headers["x-daily-ratelimit-token-remaining"] == "0"


def test_tokens_and_requests_are_counted_per_endpoint(sandbox) -> None:
    get(sandbox, "/api/v2/deals")
    get(sandbox, "/api/v2/deals/1")
    get(sandbox, "/api/v1/notes")
    stats = sandbox.stats()
    assert stats["requests"] == 3
    assert stats["tokens"] == 10 + 1 + 20
    assert stats["by_endpoint"]["GET /api/v2/deals/{id}"] == {"requests": 1, "tokens": 1}
    assert requests.get(sandbox.api_url + "/_admin/stats", timeout=5).json()["tokens"] == 31
    assert [r["path"] for r in sandbox.request_log()] == [
        "/api/v2/deals",
        "/api/v2/deals/1",
        "/api/v1/notes",
    ]


def _outcome(sb) -> str:
    try:
        response = call(sb, "GET", "/api/v2/deals")
    except requests.exceptions.ConnectionError:
        return "reset"
    except requests.exceptions.ChunkedEncodingError:
        return "cutoff"
    if response.status_code == 429:
        return "429bare" if "Retry-After" not in response.headers else "429burst"
    if response.status_code >= 500:
        return "5xx" if response.headers["Content-Type"] == "application/json" else "nonjson"
    try:
        body = response.json()
    except ValueError:
        return "cutoff"
    return "nulldata" if body["data"] is None else "ok"


def test_each_fault_kind_happens_and_is_deterministic(sandbox_factory) -> None:
    faults = "5xx=0.1,reset=0.1,cutoff=0.1,nonjson=0.1,429bare=0.1,429burst=0.05,nulldata=0.1"
    runs = []
    for _ in range(2):
        sb = sandbox_factory(faults=faults)
        runs.append([_outcome(sb) for _ in range(100)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {
        "ok",
        "5xx",
        "reset",
        "cutoff",
        "nonjson",
        "429bare",
        "429burst",
        "nulldata",
    }
    # a burst is several 429s in a row
    text = ",".join(runs[0])
    assert ",".join(["429burst"] * 3) in text


def test_latency_is_added(sandbox_factory) -> None:
    import time

    sb = sandbox_factory(faults="latency=0.2")
    started = time.monotonic()
    call(sb, "GET", "/api/v2/deals/1")
    assert time.monotonic() - started >= 0.2
