"""A lost ledger (a new file, a fresh container, CI) or one that is behind (restored from a
backup, runs it has no record of) doubles nothing: the target finds out what Pipedrive already
has, with one listing of our activities per run, and the email counters never go down."""

import sqlite3
from pathlib import Path

import pytest

from .feed import OURS, config, message, run, spread
from .written import activities_by_message, assert_no_duplicates, persons_by_email

ENTITIES = ("organizations", "persons", "leads", "deals", "activities")
FIELDS = ("thread_count", "last_contact", "avg_response_hours")


def counts(sb) -> dict[str, int]:
    return {e: sb.count(e) for e in ENTITIES}


def counters(sb, codes: dict[str, str], emails: list[str] | None = None) -> dict[str, dict]:
    """The custom person fields the target writes, by email."""
    found = persons_by_email(sb)
    return {
        email: {purpose: found[email]["custom_fields"].get(codes[purpose]) for purpose in FIELDS}
        for email in emails or sorted(found)
        if email in found
    }


def never_lower(before: dict, after: dict) -> list[str]:
    """Every counter that went down, as 'email purpose: before -> after'."""
    lower = []
    for email, values in before.items():
        for purpose, value in values.items():
            now = after[email][purpose]
            if value is not None and (now is None or now < value):
                lower.append(f"{email} {purpose}: {value} -> {now}")
    return lower


def copy_ledger(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def test_a_new_ledger_finds_what_pipedrive_has_and_writes_nothing_again(
    sandbox_factory, tmp_path
) -> None:
    sb = sandbox_factory()
    msgs = spread(40)
    first = run(config(sb, tmp_path / "first"), msgs)
    codes = first.writer.field_codes
    made = counts(sb)
    ours = [
        e for e in persons_by_email(sb) if e.endswith(tuple(f"firm{i}.example" for i in range(5)))
    ]
    shown = counters(sb, codes, ours)
    assert all(v["thread_count"] for v in shown.values())
    sb.reset_stats()
    again = run(config(sb, tmp_path / "lost"), msgs)  # the same input, a new empty ledger
    assert counts(sb) == made
    assert activities_by_message(sb) == {m["id"]: 1 for m in msgs}
    assert_no_duplicates(sb)
    assert counters(sb, codes, ours) == shown
    calls = sb.stats()["by_endpoint"]
    assert not [c for c in calls if not c.startswith("GET")], calls  # nothing written
    # near the floor: one listing of our activities, not one lookup per message
    assert calls["GET /api/v2/activities"]["requests"] == 1
    assert not [c for c in calls if c.endswith("/search")]
    assert again.client.stats.requests == sb.stats()["requests"]
    with sqlite3.connect(tmp_path / "lost" / "ledger.db") as ledger:
        (done,) = ledger.execute(
            "SELECT count(*) FROM pd_messages WHERE status = 'done'"
        ).fetchone()
    assert done == len(msgs)


def test_a_new_ledger_never_lowers_the_counters(sandbox_factory, tmp_path) -> None:
    """A fresh ledger fed only the latest messages counts fewer threads than Pipedrive shows:
    the counters written are never below what is there."""
    sb = sandbox_factory()
    msgs = spread(40)
    codes = run(config(sb, tmp_path / "first"), msgs).writer.field_codes
    before = counters(sb, codes)
    later = [
        message("late-1", "p1@firm1.example", [OURS], thread="t-late", hours=200),
        message("late-2", OURS, ["p2@firm2.example"], thread="t-late2", hours=201),
        message("late-3", "p2@firm2.example", [OURS], thread="t-late2", hours=202),
    ]
    run(config(sb, tmp_path / "lost"), msgs[-6:] + later)
    after = counters(sb, codes)
    assert never_lower(before, after) == []
    assert activities_by_message(sb) == {m["id"]: 1 for m in msgs + later}
    # and they still move up with new engagement
    assert after["p1@firm1.example"]["last_contact"] > before["p1@firm1.example"]["last_contact"]


def test_a_ledger_restored_from_a_backup_doubles_nothing_and_lowers_nothing(
    sandbox_factory, tmp_path
) -> None:
    """Ledger behind: runs it has no record of wrote activities and raised counters. The next
    run's listing (since the backup's last one) finds them: nothing is written twice, and the
    persons those runs touched keep their higher counters."""
    sb = sandbox_factory()
    live = tmp_path / "live" / "ledger.db"
    cfg = config(sb, tmp_path / "live")
    first = [message("b1", "kim@kappa.example", [OURS], thread="a", hours=0)]
    codes = run(cfg, first).writer.field_codes
    copy_ledger(live, tmp_path / "backup" / "ledger.db")
    second = [
        message(f"b2-{n}", "kim@kappa.example", [OURS], thread=f"t{n}", hours=50 + n)
        for n in range(3)
    ]
    run(cfg, second)
    before = counters(sb, codes, ["kim@kappa.example"])
    assert before["kim@kappa.example"]["thread_count"] == 4
    made = counts(sb)
    sb.reset_stats()
    # the backup has no record of the second run; it sees its messages again, and one more
    # (an older message that arrived late)
    late = message("b3", "kim@kappa.example", [OURS], thread="z", hours=10)
    run(config(sb, tmp_path / "backup"), [*second, late])
    assert activities_by_message(sb) == {m["id"]: 1 for m in [*first, *second, late]}
    now = counts(sb)
    assert now["activities"] == made["activities"] + 1
    assert (now["organizations"], now["persons"]) == (made["organizations"], made["persons"])
    # five messages now: the Lead became the Deal (converted, not doubled)
    assert (now["leads"], now["deals"]) == (made["leads"] - 1, made["deals"] + 1)
    assert_no_duplicates(sb)
    after = counters(sb, codes, ["kim@kappa.example"])
    assert never_lower(before, after) == []
    listing = [
        r for r in sb.request_log() if (r["method"], r["path"]) == ("GET", "/api/v2/activities")
    ]
    assert len(listing) == 1
    assert listing[0]["query"].get("updated_since")  # since the backup's listing, not all


@pytest.mark.parametrize("people", [1, 12], ids=["read one by one", "read 100 to a page"])
def test_a_behind_ledger_keeps_the_counters_that_a_run_it_missed_wrote(
    sandbox_factory, tmp_path, people
) -> None:
    """The backup never sees the messages of the run it missed (the source's bookmark moved
    on): the counters that run wrote are the floor."""
    sb = sandbox_factory()
    live = tmp_path / "live" / "ledger.db"
    cfg = config(sb, tmp_path / "live")
    emails = [f"lu{i}@lambda{i}.example" for i in range(people)]
    first = [message(f"c1-{i}", e, [OURS], thread=f"a{i}") for i, e in enumerate(emails)]
    codes = run(cfg, first).writer.field_codes
    copy_ledger(live, tmp_path / "backup" / "ledger.db")
    missed = [
        message(f"c2-{i}-{n}", e, [OURS], thread=f"t{i}-{n}", hours=90 + n)
        for i, e in enumerate(emails)
        for n in range(3)
    ]
    run(cfg, missed)
    before = counters(sb, codes, emails)
    assert {v["thread_count"] for v in before.values()} == {4}
    sb.reset_stats()
    late = [message(f"c3-{i}", e, [OURS], thread=f"u{i}", hours=20) for i, e in enumerate(emails)]
    run(config(sb, tmp_path / "backup"), late)
    after = counters(sb, codes, emails)
    assert never_lower(before, after) == []
    assert {v["last_contact"] for v in after.values()} == {before[emails[0]]["last_contact"]}
    reads = sb.stats()["by_endpoint"]
    if people == 1:
        assert reads["GET /api/v2/persons/{id}"]["requests"] == 1
    else:
        assert "GET /api/v2/persons/{id}" not in reads


def test_with_the_ledger_intact_the_next_run_lists_only_what_changed(
    sandbox_factory, tmp_path
) -> None:
    sb = sandbox_factory()
    cfg = config(sb, tmp_path)
    run(cfg, spread(20))
    sb.reset_stats()
    run(cfg, spread(20))  # nothing new: no listing at all
    assert "GET /api/v2/activities" not in sb.stats()["by_endpoint"]
    run(cfg, [message("new-1", "p1@firm1.example", [OURS], hours=300)])
    (listing,) = [
        r for r in sb.request_log() if (r["method"], r["path"]) == ("GET", "/api/v2/activities")
    ]
    assert listing["query"]["updated_since"]
    assert listing["query"]["owner_id"] == "1"
    assert sb.stats()["by_endpoint"]["POST /api/v2/activities"]["requests"] == 1


def test_a_new_ledger_keeps_our_lead_and_converts_it_rather_than_add_a_deal(
    sandbox_factory, tmp_path
) -> None:
    """The person we made with a Lead is found again by a new ledger: our activities name the
    Lead, so ten more messages convert it (as for a person who was there before, without an open
    Deal) instead of putting a Deal beside it."""
    sb = sandbox_factory()
    first = message("l0", "liv@lima.example", [OURS], thread="l0")
    run(config(sb, tmp_path / "first"), [first])
    liv = persons_by_email(sb)["liv@lima.example"]["id"]
    (lead,) = [x for x in sb.store.tables["leads"].values() if x["person_id"] == liv]
    more = [
        message(f"l{n}", "liv@lima.example", [OURS], thread=f"l{n}", hours=n) for n in range(1, 11)
    ]
    run(config(sb, tmp_path / "lost"), [first, *more])
    deals = [d for d in sb.store.tables["deals"].values() if d.get("person_id") == liv]
    assert [d.get("source_lead_id") for d in deals] == [lead["id"]]
    live_leads = [
        x
        for x in sb.store.tables["leads"].values()
        if x["person_id"] == liv and not x.get("is_deleted")
    ]
    assert live_leads == []
    assert activities_by_message(sb) == {m["id"]: 1 for m in [first, *more]}
