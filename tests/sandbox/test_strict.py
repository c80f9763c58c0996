"""Strict mode: parameters held to their schemas where the description's prose allows looser
forms. Deals `status` takes one value (the prose: a comma-separated list), v1 leads `sort` a bare
field name (the prose: `field ASC`). The loose forms get Pipedrive's 400; the strict forms
work."""

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from .helpers import all_v1, all_v2, call, get

LOOSE = [
    ("/api/v2/deals", {"status": "open,won,lost,deleted"}),
    ("/api/v2/deals/archived", {"status": "open,won,lost,deleted"}),
    ("/api/v1/leads", {"sort": "update_time ASC"}),
    ("/api/v1/leads/archived", {"sort": "update_time DESC"}),
]


def assert_refused(response: requests.Response, parameter: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False
    assert body["errorCode"] == 400
    assert body["error"].startswith(f"Validation failed: {parameter}:")
    assert body["error_info"]
    assert body["data"] is None


@pytest.mark.parametrize(("path", "params"), LOOSE)
def test_strict_mode_refuses_the_loose_forms(sandbox_factory, path, params) -> None:
    sb = sandbox_factory(strict=True)
    assert_refused(call(sb, "GET", path, params=params), next(iter(params)))


@pytest.mark.parametrize(("path", "params"), LOOSE)
def test_the_loose_forms_work_by_default(sandbox, path, params) -> None:
    assert not sandbox.strict
    assert get(sandbox, path, **params)["success"] is True


def test_strict_deals_take_one_status_at_a_time(sandbox_factory) -> None:
    sb = sandbox_factory(strict=True)
    everything = {r["id"] for r in all_v2(sb, "/api/v2/deals", limit=500)}
    deleted = all_v2(sb, "/api/v2/deals", status="deleted", limit=500)
    assert deleted
    assert all(d["status"] == "deleted" for d in deleted)
    assert not everything & {d["id"] for d in deleted}
    won = all_v2(sb, "/api/v2/deals", status="won", limit=500)
    assert won
    assert all(d["status"] == "won" for d in won)
    # together, the list without status and the deleted list are the loose form's answer
    sb.set_strict(False)
    loose = {
        r["id"] for r in all_v2(sb, "/api/v2/deals", limit=500, status="open,won,lost,deleted")
    }
    assert loose == everything | {d["id"] for d in deleted}


def test_strict_leads_sort_by_a_bare_field_name_ascending(sandbox_factory) -> None:
    sb = sandbox_factory(strict=True)
    leads = all_v1(sb, "/api/v1/leads", sort="update_time", limit=7)
    assert leads
    times = [lead["update_time"] for lead in leads]
    assert times == sorted(times)
    archived = all_v1(sb, "/api/v1/leads/archived", sort="update_time", limit=500)
    assert archived
    since = times[len(times) // 2]
    newer = all_v1(sb, "/api/v1/leads", sort="update_time", updated_since=since, limit=500)
    assert {lead["id"] for lead in newer} == {
        lead["id"] for lead in leads if lead["update_time"] >= since
    }


def test_strict_mode_leaves_lists_whose_sort_is_free_text(sandbox_factory) -> None:
    sb = sandbox_factory(strict=True)
    assert get(sb, "/api/v1/leads")["data"]  # no sort at all: the API's default order
    assert get(sb, "/api/v1/leads/archived", limit=5)["data"]
    assert get(sb, "/api/v1/notes", sort="update_time ASC")["data"]
    assert get(sb, "/api/v1/files", sort="update_time DESC")["data"]


def test_unknown_status_values_are_refused_in_either_mode(sandbox) -> None:
    assert_refused(call(sandbox, "GET", "/api/v2/deals", params={"status": "open,all"}), "status")


def test_strict_mode_switches_at_run_time(sandbox) -> None:
    loose = {"status": "open,won,lost,deleted"}
    sandbox.set_strict(True)
    assert sandbox.strict
    assert call(sandbox, "GET", "/api/v2/deals", params=loose).status_code == 400
    sandbox.set_strict(False)
    assert call(sandbox, "GET", "/api/v2/deals", params=loose).status_code == 200
    admin = sandbox.api_url + "/_admin/strict"
    assert requests.post(admin, json={"strict": True}, timeout=5).json() == {
        "ok": True,
        "strict": True,
    }
    assert call(sandbox, "GET", "/api/v2/deals", params=loose).status_code == 400
    assert requests.post(admin, json={"strict": False}, timeout=5).json()["strict"] is False
    assert call(sandbox, "GET", "/api/v2/deals", params=loose).status_code == 200


def test_the_command_starts_strict() -> None:
    command = Path(sys.executable).parent / "pipedrive-sandbox"
    with subprocess.Popen(
        [command, "--port", "0", "--size", "tiny", "--strict"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        _ask_strictly(process)


def _ask_strictly(process: subprocess.Popen) -> None:
    try:
        api_url = process.stdout.readline().strip().removeprefix("api_url=")
        token = process.stdout.readline().strip().removeprefix("token=")
        response = requests.get(
            api_url + "/api/v1/leads",
            params={"sort": "update_time ASC"},
            headers={"x-api-token": token},
            timeout=10,
        )
        assert_refused(response, "sort")
    finally:
        process.terminate()
        process.wait(timeout=10)
