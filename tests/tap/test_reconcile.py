"""Reconciliation runs (`reconcile: true`): every record of the selected streams, whatever the
bookmarks and anchor_date, each carrying the run's table version, and ACTIVATE_VERSION only
after a stream (and its deal products) was read whole: a run that fails on the way retires
nothing. Reference streams under `emit_activate_version_messages` get it after their records
too, never before (the SDK's own order)."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime, timedelta

import pytest
import requests

from pipedrive_client import ApiError
from pipedrive_client.session import PacedSession
from tap_pipedrive.tap import TapPipedrive

from .runner import Output, catalog_selecting, config_for, parse, run

RECONCILED = {
    "deals",
    "persons",
    "organizations",
    "activities",
    "products",
    "notes",
    "files",
    "leads",
    "deal_products",
}


def _order(out: Output) -> list[tuple[str, str, int | None]]:
    """(type, stream, version) of every RECORD and ACTIVATE_VERSION, in order."""
    return [
        (m["type"], m["stream"], m.get("version"))
        for m in out.messages
        if m["type"] in ("RECORD", "ACTIVATE_VERSION")
    ]


def _listed(sb, path: str, key: str = "id", **params) -> set:
    """Every id a list holds, read straight from the sandbox."""
    out, cursor = set(), None
    while True:
        query = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
        body = requests.get(
            sb.api_url + path, params=query, headers={"x-api-token": sb.token}, timeout=30
        ).json()
        out |= {r[key] for r in body["data"] or []}
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        if not cursor:
            return out


@pytest.fixture
def company(sandbox_factory):
    sb = sandbox_factory(counts={"deals": 120, "persons": 80, "organizations": 30})
    # A recent anchor: an incremental run reads only what changed lately.
    recent = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d")
    config = config_for(sb, anchor_date=recent)
    return sb, config


def test_a_reconciliation_reads_everything_and_activates_after_the_last_record(company) -> None:
    sb, config = company
    incremental = run(config, catalog=catalog_selecting(config, RECONCILED))
    catalog = catalog_selecting(config, RECONCILED)
    out = run({**config, "reconcile": True}, state=incremental.state, catalog=catalog)

    # Every record, also those last changed before the anchor and under the bookmarks.
    assert len(incremental.ids("persons")) < len(out.ids("persons"))
    assert set(out.ids("persons")) == _listed(sb, "/api/v2/persons")
    assert set(out.ids("organizations")) == _listed(sb, "/api/v2/organizations")
    live_deals = _listed(sb, "/api/v2/deals") | _listed(sb, "/api/v2/deals/archived")
    assert live_deals <= set(out.ids("deals"))
    order = _order(out)
    versions = {version for kind, _, version in order}
    assert len(versions) == 1
    assert None not in versions
    for stream in RECONCILED:
        kinds = [kind for kind, name, _ in order if name == stream]
        assert kinds.count("ACTIVATE_VERSION") == 1, stream
        assert kinds[-1] == "ACTIVATE_VERSION", f"{stream}: a record after ACTIVATE_VERSION"
    # Deal products of every live deal, archived ones included.
    attached = {p["deal_id"] for p in out.records["deal_products"]}
    assert attached
    assert attached <= set(out.ids("deals"))


def test_an_incremental_run_has_no_versions_and_change_streams_never_activate(company) -> None:
    _sb, config = company
    plain = run(config, catalog=catalog_selecting(config, RECONCILED))
    assert all(m.get("version") is None for m in plain.messages if m["type"] == "RECORD")
    assert not [m for m in plain.messages if m["type"] == "ACTIVATE_VERSION"]
    history = {"deals", "deal_changes", "deal_stage_changes"}
    out = run({**config, "reconcile": True}, catalog=catalog_selecting(config, history))
    activated = {m["stream"] for m in out.messages if m["type"] == "ACTIVATE_VERSION"}
    assert activated == {"deals"}
    assert not out.records["deal_changes"]  # a reconciliation reads lists, not changes


def test_a_reconciliation_that_fails_on_the_way_retires_nothing(company, monkeypatch) -> None:
    """The second page of persons fails for good: the run fails, persons gets no
    ACTIVATE_VERSION (the streams read whole before it may)."""
    sb, config = company
    sb.churn.create("persons", n=600)  # two pages
    send = PacedSession.request

    def failing(self, method, url, *args, **kwargs):
        if url.endswith("/api/v2/persons") and "cursor" in (kwargs.get("params") or {}):
            raise ApiError("GET /api/v2/persons: 500", status=500, endpoint="/api/v2/persons")
        return send(self, method, url, *args, **kwargs)

    monkeypatch.setattr(PacedSession, "request", failing)
    catalog = catalog_selecting(config, {"deals", "persons", "organizations"})
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(ApiError):
        TapPipedrive(config={**config, "reconcile": True}, catalog=catalog).sync_all()
    out = parse(buffer.getvalue().splitlines())
    assert len(out.ids("persons")) == 500
    activated = [m["stream"] for m in out.messages if m["type"] == "ACTIVATE_VERSION"]
    assert "persons" not in activated
    assert activated == ["deals", "organizations"]  # read whole before persons failed


def test_reference_streams_activate_after_their_records_not_before(company) -> None:
    _sb, config = company
    catalog = catalog_selecting(config, {"pipelines", "stages", "users"})
    out = run({**config, "emit_activate_version_messages": True}, catalog=catalog)
    for stream in ("pipelines", "stages", "users"):
        kinds = [kind for kind, name, _ in _order(out) if name == stream]
        assert (kinds[0], kinds[-1]) == ("RECORD", "ACTIVATE_VERSION"), stream
        assert kinds.count("ACTIVATE_VERSION") == 1
