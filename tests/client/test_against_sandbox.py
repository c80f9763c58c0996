"""The client against the sandbox: the server counts the pace, faults do not lose records."""

import time

from pipedrive_client import ClientConfig, PipedriveClient


def client_for(sb, **settings) -> PipedriveClient:
    return PipedriveClient(ClientConfig(api_token=sb.token, api_url=sb.api_url, **settings))


def test_pacing_keeps_the_plan_limit_with_no_429(sandbox_factory) -> None:
    sb = sandbox_factory(plan="lite")
    client = client_for(sb, plan="lite")
    for _ in range(50):
        client.get("/api/v2/deals/1")
    stats = sb.stats()
    assert stats["max_requests_in_2s"] <= 20
    assert stats["status"].get("429", 0) == 0
    assert stats["requests"] == 50


def test_the_server_times_its_first_and_last_request_and_its_last_answer(sandbox_factory) -> None:
    """The benchmarks split a run's wall time by these (run_all.wall_split)."""
    sb = sandbox_factory(faults="latency=0.05")
    client = client_for(sb)
    before = time.time()
    for _ in range(3):
        client.get("/api/v2/deals/1")
    after = time.time()
    stats = sb.stats()
    assert before <= stats["first_arrival"] < stats["last_arrival"] < stats["last_answer"] <= after
    assert stats["last_answer"] - stats["last_arrival"] >= 0.05  # the latency is the answer's
    assert stats["last_arrival"] - stats["first_arrival"] >= 2 * 0.05  # one after the other
    sb.reset_stats()
    assert sb.stats()["first_arrival"] is None


def test_full_listing_survives_every_fault_kind(sandbox_factory) -> None:
    sb = sandbox_factory(
        size="small",
        faults="5xx=0.05,reset=0.03,cutoff=0.03,nonjson=0.02,429bare=0.02,nulldata=0.05",
    )
    client = client_for(sb, backoff_base_seconds=0.01, backoff_cap_seconds=0.05)
    for path, entity in (("/api/v2/persons", "persons"), ("/api/v2/activities", "activities")):
        ids = [r["id"] for page in client.v2_pages(path, limit=50) for r in page.records]
        assert sorted(ids) == sorted(sb.ids(entity))
    notes = [r["id"] for page in client.v1_pages("/api/v1/notes", limit=25) for r in page.records]
    assert sorted(notes) == sorted(sb.ids("notes"))
    assert client.stats.retries > 0


def test_client_and_server_agree_on_tokens(sandbox_factory) -> None:
    sb = sandbox_factory(size="small")
    client = client_for(sb)
    list(client.list_deals())
    list(client.list_notes())
    client.search_persons("ann@example.com")
    client.current_user()
    assert client.stats.tokens == sb.stats()["tokens"]
    assert client.stats.requests == sb.stats()["requests"]
