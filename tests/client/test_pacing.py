"""Proactive pacing, counted on the server side per rolling 2-second window."""

import subprocess
import sys
import textwrap
import time

from .conftest import TOKEN
from .scripted_server import Reply, max_in_window


def test_pacing_holds_the_burst_limit(server, make_client) -> None:
    client = make_client(max_requests_per_2s=10)
    started = time.monotonic()
    for _ in range(25):
        client.get("/api/v2/deals/1")
    elapsed = time.monotonic() - started
    assert server.max_in_window(2.0) <= 10
    # 25 requests at 10 per 2 s need two full windows, and pacing should not waste much more.
    assert 4.0 <= elapsed < 6.0


def test_search_has_its_own_lower_limit(server, make_client) -> None:
    client = make_client(max_requests_per_2s=100, search_requests_per_2s=4)
    for _ in range(10):
        client.search_persons("ann@example.com")
    searches = [s.at for s in server.requests_to("/api/v2/persons/search")]
    assert max_in_window(searches) <= 4


def test_server_headers_tighten_the_pace(server, make_client) -> None:
    # The server says the window is used up (another process shares the token): we wait.
    server.on(
        "/api/v2/deals/1",
        Reply(
            headers={
                "x-ratelimit-limit": "40",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": "1",
            }
        ),
    )
    client = make_client(max_requests_per_2s=40)
    client.get("/api/v2/deals/1")
    client.get("/api/v2/deals/1")
    first, second = server.requests_to("/api/v2/deals/1")
    assert second.at - first.at >= 1.0


def test_a_window_used_up_by_our_own_requests_waits_only_for_the_oldest(
    server, make_client
) -> None:
    # The server rounds `x-ratelimit-reset` up to whole seconds; when all it counted are our
    # own requests, the sliding window knows to the millisecond when the next one may go.
    sent: list[float] = []

    def reply(query) -> Reply:
        now = time.monotonic()
        sent.append(now)
        in_window = sum(1 for at in sent if now - at < 2.0)
        headers = {"x-ratelimit-limit": "5", "x-ratelimit-remaining": str(5 - in_window)}
        return Reply(headers={**headers, "x-ratelimit-reset": "2"})

    server.handler_for("/api/v2/deals/1", reply)
    client = make_client(max_requests_per_2s=5)
    for _ in range(4):
        client.get("/api/v2/deals/1")
    time.sleep(1.5)
    client.get("/api/v2/deals/1")  # the fifth in the window: remaining 0, "reset 2"
    client.get("/api/v2/deals/1")
    times = [r.at for r in server.requests_to("/api/v2/deals/1")]
    assert times[5] - times[0] >= 2.0  # the window held
    assert times[5] - times[4] < 1.0  # but no pause of the header's 2 s on top


def test_server_limit_is_adopted_without_a_plan_but_only_lowers_an_explicit_one(
    server, make_client
) -> None:
    server.handler_for(
        "/api/v2/deals/1",
        lambda q: Reply(headers={"x-ratelimit-limit": "80", "x-ratelimit-remaining": "70"}),
    )
    auto = make_client(max_requests_per_2s=None)
    auto.get("/api/v2/deals/1")
    assert auto.session.pacer.limit == 80
    explicit = make_client(plan="lite", max_requests_per_2s=None)
    explicit.get("/api/v2/deals/1")
    assert explicit.session.pacer.limit == 20


def test_two_processes_sharing_a_budget_store_stay_under_the_limit(server, tmp_path) -> None:
    store = f"sqlite:///{tmp_path}/budget.db"
    script = textwrap.dedent(f"""
        from pipedrive_client import ClientConfig, PipedriveClient
        client = PipedriveClient(ClientConfig(api_token={TOKEN!r}, api_url={server.url!r},
                                              max_requests_per_2s=10, budget_store={store!r}))
        for _ in range(15):
            client.get("/api/v2/deals/1")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert len(server.seen) == 30
    assert server.max_in_window(2.0) <= 10


def _fake_clock_window(limit: int):
    """A window on a test's clock (`now[0]`), which its waits move on."""
    from pipedrive_client.pacing import SlidingWindow

    now = [0.0]
    window = SlidingWindow(
        limit, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    return window, now


def test_a_request_counts_from_its_sending_plus_what_its_answer_took_beyond_the_fastest() -> None:
    # The server stamps a request somewhere between its sending and its answer. The round trip
    # every request pays shifts ours and the server's stamps alike; what a slow answer took
    # beyond the fastest may have been spent on the way there, so it is counted.
    window, now = _fake_clock_window(2)
    window.acquire()
    now[0] = 0.25  # the fastest round trip: 0.25 s
    window.settle()
    window.acquire()
    now[0] = 1.5  # 1.25 s: a second more than the fastest, maybe all of it on the way there
    window.settle()
    window.acquire()  # the first request still counts (sent at 0.0, until 2.05)
    assert 2.0 <= now[0] < 2.1
    now[0] += 0.25
    window.settle()
    window.acquire()  # the slow one counts until 2.05 s after 1.25, not after its answer
    assert 3.25 <= now[0] < 3.35


def test_at_a_steady_latency_the_whole_limit_is_used() -> None:
    # 1 s of latency on every request: the places come free 2 s after each sending, not 3 s.
    window, now = _fake_clock_window(4)
    sent = []
    for _ in range(12):
        window.acquire()
        sent.append(now[0])
        now[0] += 1.0
        window.settle()
        now[0] -= 1.0  # the next may go while this one is in flight
    # 12 requests at 4 per 2 s: the 9th goes at about 4 s (answer-based counting: 6 s).
    assert sent[8] < 4.3


def test_requests_the_server_counted_that_were_not_ours_take_places_too() -> None:
    # Another process on the same token (the discovery run just before a sync, the target):
    # the server's count tells us, and our window makes room for them.
    window, now = _fake_clock_window(5)
    window.acquire()
    window.settle()
    window.count_others(4)  # x-ratelimit-remaining 1 of 5: three were someone else's
    assert window.acquire() == 0  # ours, theirs and this one: five
    window.settle()
    window.acquire()
    assert now[0] >= 2.0


def test_our_own_request_that_overtook_one_on_the_way_is_not_taken_for_someone_elses() -> None:
    # Two threads take places at the same moment and send in either order: the server may
    # count the second before the first. Counted as someone else's, it held a place for a
    # whole window (the first burst of a sync sent 17 requests where the limit allows 20).
    from concurrent.futures import ThreadPoolExecutor

    window, now = _fake_clock_window(3)
    # Each request in its own thread, as the pacer keeps a request's ticket per thread.
    with ThreadPoolExecutor(1) as a, ThreadPoolExecutor(1) as b:
        a.submit(window.acquire).result()  # A goes at 0.0 (ours: 1)
        b.submit(window.acquire).result()  # B at the same moment (ours: 2), but arrives first
        now[0] = 0.25
        b.submit(window.settle).result()
        b.submit(window.count_others, 1).result()  # B reached the server first: 1
        now[0] = 0.3  # A's trip: 0.05 s beyond the fastest, time enough for B to overtake it
        a.submit(window.settle).result()
        a.submit(window.count_others, 2).result()  # then A: 2, both ours
    assert window.acquire() == 0  # A, B and this one: three, nobody else's


def test_a_request_sent_too_late_to_overtake_leaves_the_server_count_to_someone_else() -> None:
    from concurrent.futures import ThreadPoolExecutor

    window, now = _fake_clock_window(4)
    window.acquire()
    now[0] = 0.25  # the fastest round trip
    window.settle()
    with ThreadPoolExecutor(1) as a, ThreadPoolExecutor(1) as b:
        now[0] = 1.0
        a.submit(window.acquire).result()  # A (ours: 2, with the first)
        now[0] = 1.2
        b.submit(window.acquire).result()  # B, 0.2 s later
        now[0] = 1.26  # A's trip is 0.01 s beyond the fastest: B cannot have reached it first
        a.submit(window.settle).result()
        a.submit(window.count_others, 3).result()  # the third the server counted: not ours
        assert window.acquire() > 0  # the first, A, B in flight, the other's: full


def _queue_two(window, first: float, second: float) -> list[str]:
    """Two requests of these urgencies wait for a full window, `first` before `second`: the
    order in which they went."""
    import threading

    from pipedrive_client import pacing

    went: list[str] = []

    def request(name: str, urgency: float) -> None:
        with pacing.urgency(urgency):
            window.acquire()
        went.append(name)
        window.settle()

    threads = [
        threading.Thread(target=request, args=(name, urgency))
        for name, urgency in (("first", first), ("second", second))
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # the first is waiting before the second comes
    for thread in threads:
        thread.join(timeout=5)
    return went


def test_a_more_urgent_request_takes_the_next_place_before_one_waiting_longer() -> None:
    # The stream being written before those read ahead; a chain of pages that no cut can
    # shorten before the windows of a list that can be. Of the same urgency, the first waiting.
    from pipedrive_client.pacing import SlidingWindow

    window = SlidingWindow(1, window=0.2)
    window.acquire()
    window.settle()  # the only place is taken until about 0.25 s
    assert _queue_two(window, first=-1.0, second=0.0) == ["second", "first"]
    window = SlidingWindow(1, window=0.2)
    window.acquire()
    window.settle()
    assert _queue_two(window, first=0.0, second=0.0) == ["first", "second"]
