"""How the target writes: lookups in bulk or one by one, existing persons, meetings, unsure
writes, the daily budget, settings that change the rules."""

import io
import json
import sys
from pathlib import Path

import pytest

from pipedrive_client import ConfigError
from target_pipedrive.target import TargetPipedrive

from .feed import OURS, config, message, run, singer_lines, spread, target_command
from .written import activities_by_message, assert_no_duplicates, persons_by_email

TARGET = str(Path(sys.executable).parent / "target-pipedrive")
FAST_RETRIES = {"backoff_base_seconds": 0.01, "backoff_cap_seconds": 0.05}
ENTITIES = ("organizations", "persons", "leads", "deals", "activities")


def of_person(sb, table: str, person_id: int) -> list[dict]:
    return [
        row
        for row in sb.store.tables[table].values()
        if row.get("person_id") == person_id and not row.get("is_deleted")
    ]


# -- lookups --------------------------------------------------------------------------------------


def test_many_new_counterparts_are_listed_once_not_searched(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory(size="small")  # 400 persons, 150 organizations: one page each
    before = len(persons_by_email(sb))
    sb.reset_stats()
    run(config(sb, tmp_path), spread(60, people=30))
    calls = sb.stats()["by_endpoint"]
    assert "GET /api/v2/persons/search" not in calls
    assert "GET /api/v2/organizations/search" not in calls
    assert calls["GET /api/v2/persons"]["requests"] == 1
    assert calls["GET /api/v2/organizations"]["requests"] == 1
    assert len(persons_by_email(sb)) == before + 30


def test_one_new_counterpart_is_searched_not_listed(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory(size="small")
    sb.reset_stats()
    run(config(sb, tmp_path), [message("x1", "solo@single.example", [OURS])])
    calls = sb.stats()["by_endpoint"]
    assert calls["GET /api/v2/persons/search"]["requests"] == 1
    assert "GET /api/v2/persons" not in calls


def test_known_counterparts_cost_no_lookups_on_the_next_run(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    cfg = config(sb, tmp_path)
    run(cfg, spread(20))
    sb.reset_stats()
    run(cfg, [message("later", "p1@firm1.example", [OURS], hours=100)])
    calls = sb.stats()["by_endpoint"]
    assert not [c for c in calls if "search" in c or c in ("GET /api/v2/persons",)]
    assert calls["POST /api/v2/activities"]["requests"] == 1


def test_tokens_per_message_stay_low(sandbox_factory, tmp_path) -> None:
    """A guard on the benchmark's figure: no search per message, well under 10 tokens each."""
    sb = sandbox_factory(size="small")
    msgs = spread(120, people=24)
    sb.reset_stats()
    run(config(sb, tmp_path), msgs)
    stats = sb.stats()
    assert not [name for name in stats["by_endpoint"] if name.endswith("/search")]
    assert stats["tokens"] / len(msgs) < 10
    assert stats["requests"] / len(msgs) < 1.6


# -- existing persons and meetings ----------------------------------------------------------------


def test_existing_person_with_an_open_deal_gets_activities_on_it(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    deal = next(
        d
        for d in sb.store.tables["deals"].values()
        if d["status"] == "open" and not d.get("is_deleted") and not d.get("is_archived")
    )
    person = sb.store.get("persons", deal["person_id"])
    email = person["emails"][0]["value"]
    deals_before = len(of_person(sb, "deals", person["id"]))
    run(
        config(sb, tmp_path),
        [message(f"e{i}", email, [OURS], thread=f"e{i}", hours=i) for i in range(12)],
    )
    assert len(of_person(sb, "deals", person["id"])) == deals_before
    mine = [a for a in of_person(sb, "activities", person["id"]) if "Email id" in a.get("note", "")]
    assert len(mine) == 12
    open_ids = {d["id"] for d in of_person(sb, "deals", person["id"]) if d["status"] == "open"}
    assert all(a["deal_id"] in open_ids for a in mine)
    assert not [x for x in sb.store.tables["leads"].values() if x.get("person_id") == person["id"]]
    assert len(persons_by_email(sb)) == sb.count("persons")  # no second person for the address


def test_open_deals_of_existing_persons_are_listed_once(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    emails = [sb.store.get("persons", pid)["emails"][0]["value"] for pid in sb.ids("persons")[:6]]
    msgs = [
        message(f"x{i}-{n}", email, [OURS], thread=f"x{i}-{n}", hours=n)
        for i, email in enumerate(emails)
        for n in range(10)
    ]
    pids = sb.ids("persons")[:6]
    had_open = {
        pid for pid in pids if any(d["status"] == "open" for d in of_person(sb, "deals", pid))
    }
    assert had_open
    assert set(pids) - had_open
    sb.reset_stats()
    run(config(sb, tmp_path), msgs)
    calls = sb.stats()["by_endpoint"]
    assert calls["GET /api/v2/deals"]["requests"] == 1  # not one per person
    for pid in pids:
        ours = [d for d in of_person(sb, "deals", pid) if d["title"].endswith("- email")]
        # ten messages give a Deal to those without an open one; the others keep theirs
        assert len(ours) == (0 if pid in had_open else 1)


def test_a_meeting_later_in_the_same_run_makes_the_deal(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    event = {
        "id": "ev1",
        "title": "Demo",
        "start": "2026-10-03T10:00:00Z",
        "participants": [{"name": "Mo", "email": "mo@mu.example"}, {"email": OURS}],
    }
    run(config(sb, tmp_path), [message("mu1", "mo@mu.example", [OURS])], events=[event])
    mo = persons_by_email(sb)["mo@mu.example"]
    deals = of_person(sb, "deals", mo["id"])
    assert len(deals) == 1
    assert deals[0]["source_lead_id"]  # the lead of the first message became the deal
    assert not of_person(sb, "leads", mo["id"])


def test_a_meeting_alone_makes_person_and_deal(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    event = {
        "id": "ev2",
        "title": "Intro call",
        "start": "2026-10-03T10:00:00Z",
        "participants": [{"name": "Nu", "email": "nu@nu.example"}, {"email": OURS}],
    }
    run(config(sb, tmp_path), [], events=[event])
    nu = persons_by_email(sb)["nu@nu.example"]
    assert len(of_person(sb, "deals", nu["id"])) == 1
    run(config(sb, tmp_path), [], events=[event])  # the same event again counts nothing
    assert len(of_person(sb, "deals", nu["id"])) == 1


# -- settings -------------------------------------------------------------------------------------


def test_free_mail_and_ignore_settings(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    orgs = sb.count("organizations")
    cfg = config(
        sb,
        tmp_path,
        free_mail_domains=["staffmail.example"],
        ignore_emails=["assistant@agency.example"],
        ignore_patterns=["newsletter"],
    )
    run(
        cfg,
        [
            message("s1", "sam@staffmail.example", [OURS]),
            message("s2", "assistant@agency.example", [OURS]),
            message("s3", "newsletter@shop.example", [OURS]),
            message("s4", "no-reply@shop.example", [OURS]),  # defaults were replaced
        ],
    )
    found = persons_by_email(sb)
    assert "sam@staffmail.example" in found
    assert not found["sam@staffmail.example"].get("org_id")
    assert "assistant@agency.example" not in found
    assert "newsletter@shop.example" not in found
    assert "no-reply@shop.example" in found
    assert sb.count("organizations") == orgs + 1  # shop.example only


def test_missing_pipeline_fails_at_start_listing_pipelines(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    names = [p["name"] for p in sb.store.tables["pipelines"].values()]
    with pytest.raises(ConfigError, match="pipeline 'Nope' not found") as caught:
        run(config(sb, tmp_path, pipeline_name="Nope"), [])
    assert all(name in str(caught.value) for name in names)


def test_a_bad_title_template_fails_at_start(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    with pytest.raises(ConfigError, match=r"deal_title '\{company\} - email'"):
        run(config(sb, tmp_path, deal_title="{company} - email"), [])


def test_own_side_is_required(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    cfg = {**config(sb, tmp_path), "own_emails": [], "own_domains": []}
    with pytest.raises(Exception, match="own_emails or own_domains"):
        run(cfg, [])


# -- nothing lost, nothing doubled ----------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unsure_writes_are_looked_up_not_doubled(sandbox_factory, tmp_path, seed) -> None:
    """Cut-off answers to POSTs (the server acted) and 5xx before acting: the target checks
    before writing again, so every message has exactly one activity and nothing is doubled."""
    msgs = spread(40)
    clean = sandbox_factory()
    clean_before = {e: clean.count(e) for e in ENTITIES}
    run(config(clean, tmp_path / "clean"), msgs)
    expected = {e: clean.count(e) - clean_before[e] for e in ENTITIES}
    sb = sandbox_factory(faults=f"cutoff=0.12,5xx=0.08,reset=0.03,seed={seed}")
    before = {e: sb.count(e) for e in ENTITIES}
    cfg = config(sb, tmp_path, **FAST_RETRIES)
    for _ in range(5):  # an unsure write that is still unsure after the lookup stops the run
        try:
            run(cfg, msgs)
            break
        except Exception:  # noqa: S112 - rerun, as a scheduler would
            continue
    else:
        pytest.fail("five runs did not get through")
    sb.set_faults(None)
    assert activities_by_message(sb) == {m["id"]: 1 for m in msgs}
    assert_no_duplicates(sb)
    assert {e: sb.count(e) - before[e] for e in ENTITIES} == expected


def test_null_data_answers_are_read_again_not_taken_for_empty(sandbox_factory, tmp_path) -> None:
    """The API now and then answers a 200 with `data: null`. Taken for an empty person list or
    search, it would make existing persons look new: the target reads it again."""
    sb = sandbox_factory(faults="nulldata=0.15,seed=4")
    existing = [sb.store.get("persons", pid)["emails"][0]["value"] for pid in sb.ids("persons")[:8]]
    persons_before = sb.count("persons")
    msgs = [message(f"n{i}", email, [OURS], thread=f"n{i}") for i, email in enumerate(existing)]
    msgs.append(message("n-new", "fresh@new.example", [OURS]))
    run(config(sb, tmp_path / "a"), msgs)
    run(config(sb, tmp_path / "b"), [message("n-one", existing[0], [OURS], hours=3)])  # searched
    fields = [r["def"].name for r in sb.store.tables["person_fields"].values()]
    sb.set_faults(None)
    assert sb.count("persons") == persons_before + 1
    assert_no_duplicates(sb)
    assert fields.count("Email thread count") == 1


def test_daily_budget_stops_with_a_clear_line_and_the_rerun_resumes(
    sandbox_factory, tmp_path
) -> None:
    sb = sandbox_factory(daily_budget=330)  # runs out among the activities
    cfg = config(sb, tmp_path)
    msgs = spread(30)
    lines = singer_lines(msgs)
    first = target_command(cfg, tmp_path / "config.json", lines)
    assert first.returncode == 1
    last = first.stderr.strip().splitlines()[-1]
    assert last.startswith("target-pipedrive: The company's daily Pipedrive API token budget")
    assert "resumes" in last
    assert '"bookmarks"' not in first.stdout  # no state for records that were not written
    written = activities_by_message(sb)
    assert 0 < len(written) < len(msgs)
    sb.set_daily_budget(None)
    second = target_command(cfg, tmp_path / "config.json", lines)
    assert second.returncode == 0, second.stderr[-2000:]
    assert json.loads(second.stdout.strip().splitlines()[-1]) == {
        "bookmarks": {"messages": {"n": 30}}
    }
    assert activities_by_message(sb) == {m["id"]: 1 for m in msgs}
    assert_no_duplicates(sb)


def test_state_is_emitted_after_the_writes_before_it(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    seen: list[tuple[dict, int]] = []

    class Watching(TargetPipedrive):
        def _write_state_message(self, state: dict) -> None:
            seen.append((state, self.ledger.count_messages()))
            super()._write_state_message(state)

    target = Watching(config=config(sb, tmp_path))
    target.listen(file_input=io.StringIO(singer_lines(spread(15))))
    assert seen == [({"bookmarks": {"messages": {"n": 15}}}, 15)]


# -- another tap's shape through a stream map -----------------------------------------------------

OUTLOOK_MESSAGE = {
    "id": "AAMkAGI2",
    "internetMessageId": "<CAF1@mail.acme.example>",
    "conversationId": "AAQkAGI2conv",
    "subject": "Pricing question",
    "bodyPreview": "Could you send <b>prices</b>?",
    "receivedDateTime": "2026-10-01T09:00:00Z",
    "from": {"emailAddress": {"name": "Ann Acme", "address": "ann@acme.example"}},
    "toRecipients": [{"emailAddress": {"name": "Me", "address": OURS}}],
    "ccRecipients": [],
    "bccRecipients": [],
    "replyTo": [],
}


def _addresses(field: str) -> str:
    return (
        "[{'name': r['emailAddress']['name'], 'email': r['emailAddress']['address']} "
        f"for r in {field}]"
    )


OUTLOOK_STREAM_MAP = {
    "outlook_messages": {
        "__alias__": "messages",
        "id": "internetMessageId",
        "thread_id": "conversationId",
        "subject": "subject",
        "snippet": "bodyPreview",
        "date": "receivedDateTime",
        "from": "[{'name': record['from']['emailAddress']['name'], "
        "'email': record['from']['emailAddress']['address']}]",
        "to": _addresses("toRecipients"),
        "cc": _addresses("ccRecipients"),
        "bcc": _addresses("bccRecipients"),
        "reply_to": _addresses("replyTo"),
        "__else__": None,
    }
}


def test_a_stream_map_feeds_another_taps_shape(sandbox_factory, tmp_path) -> None:
    """The README's example: Microsoft Graph messages mapped onto the input contract."""
    sb = sandbox_factory()
    schema = {"type": "object", "properties": {key: {} for key in OUTLOOK_MESSAGE}}
    lines = [
        {
            "type": "SCHEMA",
            "stream": "outlook_messages",
            "schema": schema,
            "key_properties": ["id"],
        },
        {"type": "RECORD", "stream": "outlook_messages", "record": OUTLOOK_MESSAGE},
    ]
    target = TargetPipedrive(config=config(sb, tmp_path, stream_maps=OUTLOOK_STREAM_MAP))
    target.listen(file_input=io.StringIO("\n".join(json.dumps(x) for x in lines) + "\n"))
    ann = persons_by_email(sb)["ann@acme.example"]
    assert ann["name"] == "Ann Acme"
    (activity,) = of_person(sb, "activities", ann["id"])
    assert activity["subject"] == "Pricing question"
    assert "Email id: &lt;CAF1@mail.acme.example&gt;" in activity["note"]
    assert "&lt;b&gt;prices&lt;/b&gt;" in activity["note"]


class Killed(BaseException):
    """Stands for SIGKILL between a create and the ledger remembering it."""


@pytest.mark.parametrize("kind", ["organization", "person", "lead", "deal", "activity"])
def test_death_between_a_create_and_the_ledger_is_found_on_rerun(
    sandbox_factory, tmp_path, monkeypatch, kind
) -> None:
    """The narrowest crash window: Pipedrive made the object, the ledger has only the pending
    mark. The rerun must find the object (the deal: the conversion's result), not make another."""
    from target_pipedrive.once import Once

    sb = sandbox_factory()
    cfg = config(sb, tmp_path)
    eve = "eve@epsilon.example"
    if kind == "deal":
        run(cfg, [message("d0", eve, [OURS])])  # a Lead first: the Deal comes by conversion
    count = 1 if kind == "lead" else 5
    msgs = [message(f"d{i}", eve, [OURS], thread=f"d{i}", hours=i) for i in range(1, count + 1)]
    remember = Once._remember

    def dies_once(self, what, key, object_id) -> None:
        if what == kind:
            monkeypatch.setattr(Once, "_remember", remember)
            raise Killed
        remember(self, what, key, object_id)

    monkeypatch.setattr(Once, "_remember", dies_once)
    with pytest.raises(Killed):
        run(cfg, msgs)
    assert Once._remember is remember  # it did die at that point
    run(cfg, msgs)
    assert_no_duplicates(sb)
    person = persons_by_email(sb)[eve]
    assert [o["name"] for o in sb.store.tables["organizations"].values()].count(
        "epsilon.example"
    ) == 1
    if kind == "lead":
        assert len(of_person(sb, "leads", person["id"])) == 1
        assert not of_person(sb, "deals", person["id"])
    else:
        assert len(of_person(sb, "deals", person["id"])) == 1
        assert not of_person(sb, "leads", person["id"])  # converted, or never made
    expected = {m["id"]: 1 for m in msgs} | ({"d0": 1} if kind == "deal" else {})
    assert activities_by_message(sb) == expected


def test_custom_person_fields_follow_the_counters_across_runs(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    cfg = config(sb, tmp_path)
    target = run(cfg, [message("c1", "cy@chi.example", [OURS], thread="a", hours=0)])
    codes = target.writer.field_codes
    cy = persons_by_email(sb)["cy@chi.example"]
    assert cy["custom_fields"][codes["thread_count"]] == 1
    assert cy["custom_fields"][codes["last_contact"]] == "2026-10-01"
    sb.reset_stats()
    run(
        cfg,
        [
            message("c2", OURS, ["cy@chi.example"], thread="b", hours=30),
            message("c3", "cy@chi.example", [OURS], thread="b", hours=33),
        ],
    )
    cy = persons_by_email(sb)["cy@chi.example"]
    assert cy["custom_fields"][codes["thread_count"]] == 2
    assert cy["custom_fields"][codes["last_contact"]] == "2026-10-02"
    assert cy["custom_fields"][codes["avg_response_hours"]] == 3.0
    assert sb.stats()["by_endpoint"]["PATCH /api/v2/persons/{id}"]["requests"] == 1
    sb.reset_stats()
    run(cfg, [message("c3", "cy@chi.example", [OURS], thread="b", hours=33)])  # seen before
    assert "PATCH /api/v2/persons/{id}" not in sb.stats()["by_endpoint"]
