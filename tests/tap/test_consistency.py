"""Lists that move while they are read, newest-first lists, the bulk and child streams, and a
tap killed mid-run: nothing lost, nothing read per record."""

import json
import math
import subprocess

from tap_pipedrive.tap import TapPipedrive

from .runner import TAP, catalog_selecting, config_for, parse, run


def _stream(sb, name: str):
    return TapPipedrive(config=config_for(sb)).streams[name]


def test_newest_first_streams_stop_at_the_bookmark(sandbox_factory) -> None:
    sb = sandbox_factory(size="small", counts={"files": 450})
    first = run(config_for(sb))
    updated_files = sb.churn.update("files", n=4)
    archived = sb.churn.archive("leads", n=3)
    sb.reset_stats()
    second = run(config_for(sb), state=first.state)
    by_endpoint = sb.stats()["by_endpoint"]
    assert by_endpoint["GET /api/v1/files"]["requests"] == 1  # not the 5 pages of a full read
    assert by_endpoint["GET /api/v1/leads/archived"]["requests"] == 1
    assert set(updated_files) <= set(second.ids("files"))
    assert len(second.ids("files")) < 20
    leads = {r["id"]: r for r in second.records["leads"]}
    assert set(archived) <= set(leads)
    assert all(leads[i]["is_archived"] for i in archived)
    partitions = second.state["bookmarks"]["leads"]["partitions"]
    assert [p["context"] for p in partitions] == [{"is_archived": False}, {"is_archived": True}]
    assert all(p["replication_key_value"].endswith("Z") for p in partitions)


def test_deal_products_in_bulk_never_per_deal(sandbox_factory) -> None:
    sb = sandbox_factory(size="small")
    config = config_for(sb)
    catalog = catalog_selecting(config, {"deals", "deal_products"})
    sb.reset_stats()
    first = run(config, catalog=catalog)
    deleted = set(sb.ids("deals", include_deleted=True)) - set(sb.ids("deals"))
    expected = {
        i for i in sb.ids("deal_products") if sb.get("deal_products", i)["deal_id"] not in deleted
    }
    assert set(first.ids("deal_products")) == expected
    stats = sb.stats()["by_endpoint"]
    live, archived = (
        len(sb.ids("deals", include_archived=False)),
        len(sb.ids("deals")) - len(sb.ids("deals", include_archived=False)),
    )
    assert stats["GET /api/v2/deals/products"]["requests"] <= math.ceil(live / 100) + math.ceil(
        archived / 100
    )
    assert not any("{id}" in endpoint for endpoint in stats)

    changed = sb.churn.update("deals", n=3)
    sb.reset_stats()
    second = run(config, catalog=catalog, state=first.state)
    assert sb.stats()["by_endpoint"]["GET /api/v2/deals/products"]["requests"] <= 2
    deals_read = set(second.ids("deals"))
    assert set(changed) <= deals_read
    assert {r["deal_id"] for r in second.records["deal_products"]} <= deals_read
    assert {r["deal_id"] for r in second.records["deal_products"]} & set(changed) or not any(
        sb.get("deal_products", i)["deal_id"] in changed for i in sb.ids("deal_products")
    )


def test_mail_threads_and_their_messages(sandbox_factory) -> None:
    sb = sandbox_factory(size="small")
    config = config_for(sb)
    catalog = catalog_selecting(config, {"mail_threads", "mail_messages"})
    out = run(config, catalog=catalog)
    assert sorted(out.ids("mail_threads")) == sorted(sb.ids("mail_threads"))
    assert sorted(out.ids("mail_messages")) == sorted(sb.ids("mail_messages"))
    assert {r["folder"] for r in out.records["mail_threads"]} <= {
        "inbox",
        "drafts",
        "sent",
        "archive",
    }
    threads = set(out.ids("mail_threads"))
    assert all(m["mail_thread_id"] in threads for m in out.records["mail_messages"])

    # Nothing changed: the folders are listed again, but messages are read only for the
    # threads on the bookmark's second.
    sb.reset_stats()
    again = run(config, catalog=catalog, state=out.state)
    by_endpoint = sb.stats()["by_endpoint"]
    assert len(again.ids("mail_threads")) <= 4
    messages = by_endpoint.get("GET /api/v1/mailbox/mailThreads/{id}/mailMessages", {})
    assert messages.get("requests", 0) <= 4


MAIN = ["deals", "persons", "organizations", "activities", "products", "notes", "files", "leads"]


def test_a_killed_run_resumes_from_its_last_state_without_loss(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory(size="medium")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(config_for(sb)))
    written, states = [], 0
    with subprocess.Popen(
        [TAP, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            written.append(line)
            if '"type":"STATE"' in line.replace(" ", ""):
                states += 1
                if states == 6:
                    break
        process.kill()
        process.wait(timeout=30)
    before = parse(written)
    assert before.state is not None

    resumed = run(config_for(sb), state=before.state)
    for stream in MAIN:
        expected = set(sb.ids(stream, include_deleted=stream == "deals"))
        got = set(before.ids(stream)) | set(resumed.ids(stream))
        assert got == expected, stream
    # it continued where it stopped rather than starting over
    started = [s for s in MAIN if before.records.get(s)]
    assert started
    assert len(resumed.ids(started[0])) < len(sb.ids(started[0], include_deleted=True))


def test_stream_maps_and_flattening(sandbox) -> None:
    out = run(
        config_for(
            sandbox,
            stream_maps={"deals": {"title_upper": "title.upper()"}, "persons": None},
            flattening_enabled=True,
            flattening_max_depth=1,
        )
    )
    assert "persons" not in out.records
    deal = out.records["deals"][0]
    assert deal["title_upper"] == deal["title"].upper()
    assert not any("address" in r for r in out.records["organizations"])
    schemas = {m["stream"]: m["schema"] for m in out.messages if m["type"] == "SCHEMA"}
    assert "address__locality" in schemas["organizations"]["properties"]
    assert "location__country" in schemas["activities"]["properties"]


def test_the_run_ends_with_records_per_stream_and_api_usage(sandbox, tmp_path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(config_for(sandbox)))
    result = subprocess.run(
        [TAP, "--config", str(config)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = parse(result.stdout.splitlines())
    summary = next(line for line in result.stderr.splitlines() if "Records per stream" in line)
    assert f"deals {len(out.ids('deals'))}" in summary
    usage = next(line for line in result.stderr.splitlines() if "Pipedrive API usage" in line)
    assert f"{sandbox.stats()['requests']} requests" in usage
    assert "tokens" in usage
    assert "retries" in usage
    assert "waited" in usage


def test_a_v1_list_read_by_keyset_emits_each_version_once(sandbox_factory) -> None:
    """Pages restart at the last second read; versions already read on that second are not
    emitted again. The medium company has pages of notes ending mid-second."""
    sb = sandbox_factory(size="medium")
    config = config_for(sb)
    out = run(config, catalog=catalog_selecting(config, {"notes", "leads"}))
    for stream in ("notes", "leads"):
        ids = out.ids(stream)
        assert len(ids) == len(set(ids)), stream
        assert set(ids) == set(sb.ids(stream)), stream
