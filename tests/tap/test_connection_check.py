"""`tap-pipedrive --test`: one request tells whether the token works, whose it is, the limits,
and which streams its user may read."""

from __future__ import annotations

import json

import pytest

from tap_pipedrive.connection_check import readable_streams
from tap_pipedrive.streams import STREAMS
from tests.tap.runner import config_for, run_command

PROJECT_STREAMS = {"projects", "tasks", "project_boards", "project_phases", "project_fields"}


def check(sb, tmp_path, **settings):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config_for(sb, **settings)))
    return run_command(["--config", str(path), "--test"])


def lines_of(stderr: str) -> list[str]:
    return [line.split(" | ")[-1] for line in stderr.splitlines()]


def test_the_check_costs_one_request_and_says_who_what_and_how_much(sandbox_factory, tmp_path):
    sb = sandbox_factory(plan="lite", daily_budget=30_000)
    result = check(sb, tmp_path)

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == ""  # no Singer messages: nothing for a loader
    served = sb.stats()
    assert (served["requests"], served["tokens"]) == (1, 2)
    assert served["by_endpoint"] == {"GET /api/v1/users/me": {"requests": 1, "tokens": 2}}
    lines = lines_of(result.stderr)
    user = sb.store.get("users", 1)
    assert "Connection check: the API token was accepted." in lines
    assert f"User: {user['name']} <{user['email']}> (id 1), an admin" in lines
    assert "Company: Sandbox Company (id 7100000, sandbox.pipedrive.com)" in lines
    assert "Burst limit: 20 requests per 2 s (Lite or Essential plan)" in lines
    assert "Daily token budget left: 30,000 of 30,000" in lines
    readable = next(line for line in lines if line.startswith("Streams the user may read"))
    assert {"deals", "persons", "projects", "mail_messages"} <= set(
        readable.split(": ", 1)[1].split(", ")
    )
    # The lite plan has no installments ("Only available in Growth and above plans").
    assert "Streams it may not read (1): deal_installments (the Growth plan and above)" in lines
    assert "This check cost 1 request, 2 tokens." in lines


def test_without_rate_headers_the_check_says_so(sandbox, tmp_path):
    result = check(sandbox, tmp_path)
    assert result.returncode == 0
    lines = lines_of(result.stderr)
    assert any(line.startswith("Burst limit: not announced by the API") for line in lines)
    assert "Daily token budget left: not announced by the API" in lines
    assert not any(line.startswith("Streams it may not read") for line in lines)


def test_a_rejected_token_fails_in_one_line_without_the_token(sandbox, tmp_path):
    result = check(sandbox, tmp_path, api_token="wrong-token-123456")
    assert result.returncode == 1
    assert "rejected the API token" in result.stderr.strip().splitlines()[-1]
    assert "wrong-token-123456" not in result.stderr + result.stdout
    assert sandbox.stats()["requests"] == 1


def test_streams_follow_the_users_app_access_and_the_plan():
    sales_only = {"sales": False}
    readable, unreadable = readable_streams(STREAMS, sales_only, burst=40)
    assert PROJECT_STREAMS.isdisjoint(readable)
    assert {name for name, _ in unreadable} == PROJECT_STREAMS
    assert all(why == "no access to the projects app" for _, why in unreadable)
    assert "deal_installments" in readable  # Growth: 40 requests per 2 s

    readable, unreadable = readable_streams(STREAMS, {}, burst=None)
    assert readable == []
    assert len(unreadable) == len(STREAMS)


@pytest.mark.parametrize("value", ["schema"])
def test_the_sdks_schema_test_still_writes_the_schemas(sandbox, tmp_path, value):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config_for(sandbox)))
    result = run_command(["--config", str(path), f"--test={value}"])
    assert result.returncode == 0
    types = {json.loads(line)["type"] for line in result.stdout.splitlines() if line.strip()}
    assert types == {"SCHEMA"}
