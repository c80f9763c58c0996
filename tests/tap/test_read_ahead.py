"""Reading streams ahead changes only the waiting and the order of whole streams: each stream's
records in the same order, the same bookmarks and the same requests as one stream at a time; and
it does overlap."""

import threading
import time
from concurrent.futures import Future
from types import SimpleNamespace

import pytest
import requests

from pipedrive_client import ConfigError, read_ahead
from tap_pipedrive import overlap
from tap_pipedrive.read_ahead import ReadAheadStreams
from tap_pipedrive.tap import TapPipedrive

from .runner import catalog_selecting, config_for, run

COUNTS = {"activities": 1600, "persons": 1200, "deals": 700, "notes": 900}


def _written(output) -> dict[str, list[tuple]]:
    """Each stream's SCHEMA and RECORD messages, in the order written (a stream read whole
    ahead of its turn may be written before the one the writer waited for)."""
    streams: dict[str, list[tuple]] = {}
    for m in output.messages:
        if m["type"] in ("SCHEMA", "RECORD"):
            streams.setdefault(m["stream"], []).append((m["type"], m.get("record")))
    return streams


def _stream_order(output) -> list[str]:
    return [m["stream"] for m in output.messages if m["type"] == "SCHEMA"]


def test_reading_ahead_writes_what_one_stream_at_a_time_writes(sandbox_factory, monkeypatch):
    # With no latency, streams are read in turn (below); here, read ahead all the same.
    monkeypatch.setattr(overlap, "NETWORK_SECONDS", 0.0)
    sb = sandbox_factory(counts=COUNTS)
    sb.reset_stats()
    plain = run(config_for(sb, read_ahead_streams=0))
    plain_requests = sb.stats()["by_endpoint"]
    sb.reset_stats()
    ahead = run(config_for(sb, read_ahead_streams=3))
    assert sb.stats()["by_endpoint"] == plain_requests
    assert _written(ahead) == _written(plain)
    assert ahead.state["bookmarks"] == plain.state["bookmarks"]
    # And the next run from that state reads the same as the plain one would.
    sb.reset_stats()
    again = run(config_for(sb, read_ahead_streams=3), state=ahead.state)
    again_requests = sb.stats()["by_endpoint"]
    sb.reset_stats()
    plain_again = run(config_for(sb, read_ahead_streams=0), state=plain.state)
    assert sb.stats()["by_endpoint"] == again_requests
    assert _written(again) == _written(plain_again)


def test_the_next_streams_are_read_while_the_first_is_written(sandbox_factory) -> None:
    # 50 ms per answer: the first stream's four pages take a while, and the streams after it
    # must not wait for them.
    sb = sandbox_factory(counts=COUNTS, faults="latency=0.05")
    run(config_for(sb, read_ahead_streams=2))
    paths = [entry["path"] for entry in sb.request_log() if "Fields" not in entry["path"]]
    # The first stream is activities; the streams read ahead start with it, so one of their
    # requests may reach the sandbox before its first page.
    first = "/api/v2/activities"
    last_of_first = len(paths) - 1 - paths[::-1].index(first)
    others_before = {p for p in paths[paths.index(first) : last_of_first] if p != first}
    assert len(others_before) >= 2, paths[: last_of_first + 1]


class _Timeline:
    """When each request of the tap went and when its answer came, by path."""

    def __init__(self, monkeypatch) -> None:
        self.sent: list[tuple[float, str]] = []
        self.answered: list[tuple[float, str]] = []
        send, lock = requests.Session.send, threading.Lock()

        def timed_send(session, request, **kwargs):
            path = request.path_url.split("?")[0]
            with lock:
                self.sent.append((time.monotonic(), path))
            try:
                return send(session, request, **kwargs)
            finally:
                with lock:
                    self.answered.append((time.monotonic(), path))

        monkeypatch.setattr(requests.Session, "send", timed_send)


def test_a_stream_read_whole_ahead_of_its_turn_is_written_before_one_still_read(
    sandbox_factory,
) -> None:
    # 200 ms per answer, each list one chain of pages: activities (2 pages) is written first;
    # by then notes (1 page) has been read whole and deals (6 pages) has not. Notes goes next,
    # so its records are not left for after deals' last answer; each stream is written whole.
    counts = {"activities": 600, "deals": 3000, "notes": 300}
    sb = sandbox_factory(counts=counts, faults="latency=0.2")
    config = config_for(sb, time_windows=1)
    catalog = catalog_selecting(config, set(counts))
    output = run(config, catalog=catalog)
    assert _stream_order(output) == ["activities", "notes", "deals"]
    plain = run(config_for(sb, time_windows=1, read_ahead_streams=0), catalog=catalog)
    assert _stream_order(plain) == ["activities", "deals", "notes"]
    assert _written(output) == _written(plain)
    assert output.state["bookmarks"] == plain.state["bookmarks"]


def test_a_stream_whose_reading_failed_ahead_of_its_turn_keeps_its_turn() -> None:
    # Read whole ahead of its turn, a stream goes next; one whose reading failed does not: its
    # error ends the run, and the streams before it are written first, as before.
    first, failed, whole = (SimpleNamespace(name=name) for name in ("a", "b", "c"))
    streams = ReadAheadStreams([(first, None), (failed, None), (whole, None)])

    def failing():
        raise RuntimeError("boom")
        yield

    streams._waiting = {"b {}": read_ahead(failing()), "c {}": read_ahead(iter([[1]]))}
    deadline = time.monotonic() + 5
    while not all(r.fetched for r in streams._waiting.values()) and time.monotonic() < deadline:
        time.sleep(0.001)
    assert streams.next_to_write([first, failed, whole]) is whole
    assert streams.next_to_write([first, failed]) is first
    streams.close()


def test_the_first_pages_go_beside_the_field_definitions(sandbox_factory, monkeypatch) -> None:
    # With a catalog (Meltano's way), the streams' schemas wait for the field definitions only
    # when their first record is written: the first list pages do not wait a round trip.
    sb = sandbox_factory(counts=COUNTS, faults="latency=0.3")
    config = config_for(sb)
    catalog = catalog_selecting(config, {"deals", "persons", "activities"})
    timeline = _Timeline(monkeypatch)
    output = run(config, catalog=catalog)
    assert output.records["deals"]
    assert output.records["persons"]
    fields_back = min(t for t, path in timeline.answered if path.endswith("Fields"))
    lists_sent = [t for t, path in timeline.sent if not path.endswith("Fields")]
    assert min(lists_sent) < fields_back, "the first list page waited for the field definitions"
    # The custom field columns are there all the same, named by those definitions.
    assert all("deal_source" in d and "custom_fields" not in d for d in output.records["deals"])


def test_with_a_catalog_and_no_network_wait_streams_are_read_in_turn(
    sandbox_factory, monkeypatch
) -> None:
    # The field definitions now come back in the background, beside the sync: with a catalog,
    # a server beside the tap is still known before the streams start, and nothing is read
    # ahead. (The wait that makes sure of it is tested below.) The wait is made long here: on
    # a busy machine a fresh sandbox's first answer can outlast the sync's 100 ms.
    monkeypatch.setattr(overlap, "FIRST_ANSWER_SECONDS", 2.0)
    sb = sandbox_factory(counts=COUNTS)
    config = config_for(sb, read_ahead_streams=3)
    catalog = catalog_selecting(config, {"activities", "deals", "notes", "persons"})
    sb.reset_stats()
    run(config, catalog=catalog)
    assert _read_in_turn(sb)


@pytest.mark.parametrize("answer_after", [0.005, None])
def test_the_sync_waits_briefly_for_the_first_field_definitions(answer_after) -> None:
    # An answer within the wait is waited for (overlap.pays_off then knows a server beside the
    # tap); with none, the wait ends `FIRST_ANSWER_SECONDS` after they went.
    answer: Future = Future()
    if answer_after is not None:
        threading.Timer(answer_after, answer.set_result, [None]).start()
    began = time.monotonic()
    tap = SimpleNamespace(
        _fetching_definitions={"/api/v2/dealFields": answer}, _definitions_sent=began
    )
    TapPipedrive._first_answer(tap)
    waited = time.monotonic() - began
    assert answer.done() is (answer_after is not None)
    assert waited >= min(answer_after or 1.0, overlap.FIRST_ANSWER_SECONDS) - 0.001
    assert waited < overlap.FIRST_ANSWER_SECONDS + 0.1


def _read_in_turn(sb) -> bool:
    paths = [entry["path"] for entry in sb.request_log() if "Fields" not in entry["path"]]
    turns = [p for i, p in enumerate(paths) if i == 0 or paths[i - 1] != p]
    return len(turns) == len(set(turns))  # no stream is come back to


def test_one_stream_at_a_time_reads_streams_in_turn(sandbox_factory) -> None:
    sb = sandbox_factory(counts=COUNTS, faults="latency=0.05")
    run(config_for(sb, read_ahead_streams=0))
    assert _read_in_turn(sb)


def test_with_no_network_wait_to_overlap_streams_are_read_in_turn(sandbox_factory) -> None:
    # A server beside the tap answers in a millisecond or two: reading ahead would only add
    # threads and spooling while the run waits for a CPU (overlap.py).
    sb = sandbox_factory(counts=COUNTS)
    run(config_for(sb, read_ahead_streams=3))
    assert _read_in_turn(sb)


@pytest.mark.parametrize(
    ("fastest", "eager", "pays"),
    [
        (float("inf"), "", True),
        (0.002, "", False),
        (0.015, "", False),
        (0.03, "", True),
        (0.002, "1", True),
    ],
)
def test_overlap_pays_off_from_the_fastest_round_trip(monkeypatch, fastest, eager, pays) -> None:
    class Client:
        def fastest_round_trip(self) -> float:
            return fastest

    monkeypatch.setenv(overlap.EAGER_ENV, eager)
    assert overlap.pays_off(Client()) is pays


@pytest.mark.parametrize("value", [-1, 9])
def test_read_ahead_streams_must_be_a_small_whole_number(sandbox_factory, value) -> None:
    # Other types are turned away by the settings schema first (see test_cli).
    sb = sandbox_factory()
    with pytest.raises(ConfigError, match=f"read_ahead_streams '{value}' must be a whole number"):
        TapPipedrive(config=config_for(sb, read_ahead_streams=value))
