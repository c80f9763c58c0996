"""The tap at the edges: servers that answer oddly, data that does not fit the happy shape, bad
state. Each case either reads every record or fails in one line with a state that does not
pass what was not read. Exact server behaviour comes from the scripted server; whole syncs from
the sandbox."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from tap_pipedrive.custom_fields import name_columns
from tests.client.scripted_server import Reply, ScriptedServer

from .runner import catalog_selecting, config_for, parse, run, run_command

TOKEN = "scripted-token-0123"
NULL_PAGE = Reply(body={"success": True, "data": None})


@pytest.fixture
def server():
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


def _scripted_config(server: ScriptedServer, **extra) -> dict:
    return {
        "api_url": server.url,
        "api_token": TOKEN,
        "anchor_date": "2020-01-01",
        "backoff_base_seconds": 0.01,
        "backoff_cap_seconds": 0.05,
        "odd_page_wait_seconds": 0.3,
        "read_ahead_streams": 0,
        **extra,
    }


def _deal(i: int, time: str) -> dict:
    return {"id": i, "title": f"Deal {i}", "update_time": time, "is_deleted": False}


def _time(minutes: int) -> str:
    return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def _paged(pages: list[list[dict]]):
    """A v2 list answering `pages` by cursor ("0", "1", ...)."""

    def answer(query: dict) -> Reply:
        index = int(query.get("cursor", "0"))
        more = str(index + 1) if index + 1 < len(pages) else None
        return Reply(
            body={"success": True, "data": pages[index], "additional_data": {"next_cursor": more}}
        )

    return answer


def _run_deals(server, tmp_path, config: dict, streams=("deals",)):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(config))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_selecting(config, set(streams))))
    result = run_command(["--config", str(cfg), "--catalog", str(catalog)])
    return result, parse(result.stdout.splitlines())


def _last_bookmark(out, partition: int = 0) -> str | None:
    deals = (out.state or {}).get("bookmarks", {}).get("deals", {})
    parts = deals.get("partitions") or []
    return parts[partition].get("replication_key_value") if parts else None


# -- 1. a page that keeps answering data: null ---------------------------------------------------


def test_a_page_that_stays_null_fails_the_run_and_the_state_stays_before_it(
    server, tmp_path
) -> None:
    """Before: the page was taken as empty after three quick re-reads, the run went on past it
    and exited 0, and the bookmark moved past its records for good."""
    first = [_deal(i, _time(i)) for i in range(1, 501)]
    server.on("/api/v2/deals", _paged([first, []])({}))
    server.handler_for("/api/v2/deals", lambda q: NULL_PAGE)
    result, out = _run_deals(server, tmp_path, _scripted_config(server))
    assert result.returncode == 1
    said = [line for line in result.stderr.splitlines() if line.startswith("tap-pipedrive:")]
    assert len(said) == 1
    assert "GET /api/v2/deals: a page answered data: null" in said[0]
    assert "Traceback" not in result.stderr
    assert out.ids("deals") == list(range(1, 501))
    assert (_last_bookmark(out) or "") <= _time(500)


def test_field_definitions_that_stay_null_fail_instead_of_dropping_custom_columns(
    server, tmp_path
) -> None:
    """Before: believed as an empty list, and every custom value of the run was dropped."""
    server.handler_for("/api/v2/dealFields", lambda q: NULL_PAGE)
    server.handler_for("/api/v2/deals", _paged([[_deal(1, _time(1))]]))
    config = _scripted_config(server)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(config))
    result = run_command(["--config", str(cfg)])
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("tap-pipedrive: GET /api/v2/dealFields: a page answered data: null")
    )
    assert '"type":"RECORD"' not in result.stdout.replace(" ", "")


# -- 3. a bookmark in the future ------------------------------------------------------------------


def test_a_bookmark_in_the_future_reads_from_now_minus_the_lookback(sandbox, caplog) -> None:
    """Before: the stream read from 2099 on, found nothing, and kept the 2099 bookmark for
    ever; changes made now were never read."""
    changed = sandbox.churn.update("persons", n=2)
    future = "2099-01-01T00:00:00Z"
    state = {
        "bookmarks": {
            "persons": {"replication_key": "update_time", "replication_key_value": future}
        }
    }
    config = config_for(sandbox)
    catalog = catalog_selecting(config, {"persons"})
    with caplog.at_level(logging.WARNING):
        out = run(config, state=state, catalog=catalog)
    assert set(changed) <= set(out.ids("persons"))
    bookmark = out.state["bookmarks"]["persons"]["replication_key_value"]
    assert bookmark <= datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    warned = [r.getMessage() for r in caplog.records if "in the future" in r.getMessage()]
    assert len(warned) == 1
    assert "'persons'" in warned[0]


# -- 4. data off the happy shape ------------------------------------------------------------------


def test_option_ids_that_are_strings_keep_their_values_and_labels(caplog) -> None:
    """The description allows string option ids. Before: int('a1') ended the discovery with a
    ValueError, and string values were dropped as None."""
    definitions = [
        {
            "field_code": "k" * 40,
            "field_name": "Tier",
            "field_type": "enum",
            "is_custom_field": True,
            "options": [{"id": "a1", "label": "Gold"}, {"id": 7, "label": "Silver"}],
        },
        {
            "field_code": "s" * 40,
            "field_name": "Size",
            "field_type": "set",
            "is_custom_field": True,
            "options": [{"id": "3", "label": "Big"}, {"id": 4, "label": "Small"}],
        },
    ]
    with caplog.at_level(logging.WARNING):
        tier, size = name_columns(definitions, set(), "readable")
    assert tier.schema()["tier"]["type"] == ["null", "string"]
    assert tier.columns("a1") == {"tier": "a1", "tier_label": "Gold"}
    assert tier.columns(7) == {"tier": "7", "tier_label": "Silver"}
    assert any("not whole numbers" in r.getMessage() for r in caplog.records)
    # digits as strings are still numbers: the set keeps its integer column
    assert size.schema()["size"]["items"] == {"type": "integer"}
    assert size.columns(["3", 4]) == {"size": [3, 4], "size_labels": ["Big", "Small"]}


def test_records_out_of_order_across_pages_are_all_read_and_the_bookmark_waits(
    server, tmp_path
) -> None:
    """Before: the SDK's unsorted-data exception ended the run with a traceback."""
    first = [_deal(i, _time(100 + i)) for i in range(1, 4)]
    second = [_deal(10, _time(50)), _deal(11, _time(200))]  # 50 arrives after 103
    server.handler_for("/api/v2/deals", _paged([first, second]))
    result, out = _run_deals(server, tmp_path, _scripted_config(server))
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.ids("deals") == [1, 2, 3, 10, 11]
    assert "out of update_time order" in result.stderr
    # no state after the late record passes it; the end of the partition moves it to the max
    late = out.messages.index(next(m for m in out.messages if m.get("record", {}).get("id") == 10))
    later_states = [m["value"] for m in out.messages[late:] if m["type"] == "STATE"]
    for state in later_states[:-1]:
        parts = state["bookmarks"]["deals"].get("partitions") or [{}]
        assert (parts[0].get("replication_key_value") or "") <= _time(50)
    assert _last_bookmark(out) == _time(200)


# -- 5. bulk deal products ------------------------------------------------------------------------


def test_deal_products_ask_for_each_deal_once(server, tmp_path) -> None:
    """A deal changed while the run read it comes twice; its products are asked for once."""
    first = [_deal(1, _time(1)), _deal(2, _time(2))]
    second = [_deal(1, _time(3)), _deal(3, _time(4))]  # deal 1 again, updated
    server.handler_for("/api/v2/deals", _paged([first, second]))
    result, _ = _run_deals(
        server, tmp_path, _scripted_config(server), streams=("deals", "deal_products")
    )
    assert result.returncode == 0, result.stderr[-2000:]
    asked = [s.query["deal_ids"].split(",") for s in server.requests_to("/api/v2/deals/products")]
    ids = [i for batch in asked for i in batch]
    assert sorted(ids) == ["1", "2", "3"]


# -- 9. logs a person can read --------------------------------------------------------------------


def test_each_partition_starts_once_by_name_and_metrics_count_per_partition(small_run) -> None:
    stderr = small_run.stderr
    starts = [
        line for line in stderr.splitlines() if "Starting incremental sync of 'deals'" in line
    ]
    assert len(starts) == 2, starts
    assert "(is_archived=False)" in starts[0]
    assert "(is_archived=True)" in starts[1]
    counts = {}
    for line in stderr.splitlines():
        if '"metric":"record_count"' in line and '"stream":"deals"' in line:
            point = json.loads(line.split("METRIC: ", 1)[1])
            archived = point["tags"]["context"]["is_archived"]
            counts[archived] = counts.get(archived, 0) + point["value"]
    out = parse(small_run.stdout.splitlines())
    emitted = {True: 0, False: 0}
    for record in out.records["deals"]:
        emitted[bool(record.get("is_archived"))] += 1
    assert counts == emitted


@pytest.fixture
def small_run(sandbox_factory, tmp_path):
    sb = sandbox_factory(size="small")
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(config_for(sb)))
    result = run_command(["--config", str(cfg)])
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_about_in_markdown_starts_with_its_heading() -> None:
    """Before: the docstring's indented second line made the heading a code block."""
    result = run_command(["--about", "--format", "markdown"])
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[0] == "# `tap-pipedrive`"
    assert not lines[1].startswith("    ")


# -- 7. the prose's forms refused: fall back to the schema's --------------------------------------


def test_a_strict_api_that_refuses_the_loose_forms_reads_the_same_records(
    sandbox_factory, caplog
) -> None:
    """Before: the 400 on `status=open,won,lost,deleted` (and on `sort=update_time ASC`) ended
    the run."""
    lenient = run(config_for(sandbox_factory(size="small")))
    strict_sb = sandbox_factory(size="small", strict=True)
    with caplog.at_level(logging.WARNING):
        strict = run(config_for(strict_sb))
    for stream in ("deals", "leads"):
        assert sorted(strict.ids(stream)) == sorted(lenient.ids(stream)), stream
        for partition in (False, True):
            times = [
                r["update_time"]
                for r in strict.records[stream]
                if bool(r.get("is_archived")) is partition
            ]
            assert times == sorted(times), (stream, partition)
    assert any(r.get("_sdc_deleted_at") for r in strict.records["deals"])  # deleted ones too
    refused = [r.getMessage() for r in caplog.records if "the API refused" in r.getMessage()]
    assert any("'deals'" in m and "status=open,won,lost,deleted (400)" in m for m in refused)
    assert any("'leads'" in m and "sort=update_time" in m for m in refused)
    assert strict.state == lenient.state
