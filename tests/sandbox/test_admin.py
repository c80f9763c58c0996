"""The `/_admin` routes over HTTP: inspection, settings, churn, and errors."""

import json

import requests

from .helpers import get


def admin(sandbox, method: str, route: str, body=None) -> requests.Response:
    url = f"{sandbox.api_url}/_admin/{route}"
    return requests.request(method, url, json=body, timeout=10)


def test_the_request_log_is_one_json_line_per_request(sandbox) -> None:
    get(sandbox, "/api/v2/deals", limit=5)
    get(sandbox, "/api/v1/leads", limit=5)
    lines = admin(sandbox, "GET", "requests").text.splitlines()
    assert [json.loads(line)["path"] for line in lines] == ["/api/v2/deals", "/api/v1/leads"]
    assert admin(sandbox, "POST", "reset-stats").json() == {"ok": True}
    assert admin(sandbox, "GET", "requests").text == ""
    assert admin(sandbox, "GET", "stats").json() == sandbox.stats()


def test_settings_change_the_running_sandbox(sandbox) -> None:
    assert admin(sandbox, "POST", "strict", {}).json() == {"ok": True, "strict": True}
    assert sandbox.strict
    assert admin(sandbox, "POST", "strict", {"strict": False}).json()["strict"] is False
    assert admin(sandbox, "POST", "plan", {"plan": "growth", "daily_budget": 100}).ok
    assert (sandbox.limits.plan, sandbox.limits.daily_budget) == ("growth", 100)
    assert admin(sandbox, "POST", "faults", {"5xx": 1.0}).ok
    assert requests.get(f"{sandbox.api_url}/api/v2/deals", timeout=10).status_code == 401
    assert (
        requests.get(
            f"{sandbox.api_url}/api/v2/deals", headers={"x-api-token": sandbox.token}, timeout=10
        ).status_code
        == 503
    )


def test_churn_over_http_and_its_errors(sandbox) -> None:
    ids = admin(sandbox, "POST", "churn", {"action": "create", "entity": "deals", "n": 2})
    assert len(ids.json()["ids"]) == 2
    assert admin(sandbox, "GET", "counts").json() == sandbox.counts()
    unknown = admin(sandbox, "POST", "churn", {"action": "melt", "entity": "deals"})
    assert (unknown.status_code, unknown.json()) == (400, {"error": "unknown churn action 'melt'"})
    wrong = admin(sandbox, "POST", "churn", {"action": "archive", "entity": "persons"})
    assert wrong.status_code == 400
    missing = admin(sandbox, "GET", "nothing")
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "no admin route GET /_admin/nothing"},
    )
