"""The command: --about, --discover, catalog selection, and one-line errors without the token."""

import json

import pytest

from .runner import config_for, parse, run_command


@pytest.fixture
def config_file(sandbox, tmp_path):
    def write(**settings) -> str:
        path = tmp_path / "config.json"
        path.write_text(json.dumps({**config_for(sandbox), **settings}))
        return str(path)

    return write


def test_about_lists_the_settings_with_the_token_secret() -> None:
    result = run_command(["--about", "--format", "json"])
    assert result.returncode == 0, result.stderr
    about = json.loads(result.stdout)
    props = about["settings"]["properties"]
    assert props["api_token"].get("secret") is True
    assert {
        "company_domain",
        "anchor_date",
        "lookback_window",
        "custom_field_names",
        "include_deleted",
        "plan",
        "budget_store",
    } <= set(props)


def test_discover_and_catalog_selection(config_file, tmp_path) -> None:
    result = run_command(["--config", config_file(), "--discover"])
    assert result.returncode == 0, result.stderr
    catalog = json.loads(result.stdout)
    names = {s["tap_stream_id"] for s in catalog["streams"]}
    assert {"deals", "persons", "leads", "mail_threads", "deal_products", "stages"} <= names
    for entry in catalog["streams"]:
        top = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
        top["metadata"]["selected"] = entry["tap_stream_id"] == "stages"
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    synced = run_command(["--config", config_file(), "--catalog", str(path)])
    assert synced.returncode == 0, synced.stderr
    out = parse(synced.stdout.splitlines())
    assert set(out.records) == {"stages"}


def test_expensive_streams_are_deselected_by_default(config_file) -> None:
    result = run_command(["--config", config_file()])
    out = parse(result.stdout.splitlines())
    assert "mail_threads" not in out.records
    assert "deal_products" not in out.records
    assert "deals" in out.records


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"api_token": "wrong-token-123456"}, "rejected the API token"),
        ({"api_url": None, "company_domain": "acme.evil.com/x"}, "company_domain"),
        ({"anchor_date": "last tuesday"}, "anchor_date 'last tuesday' is not a date"),
        ({"api_url": "http://10.1.2.3:9"}, "plain http to a non-loopback host"),
        ({"api_token": None}, "api_token is missing"),
        ({"custom_field_names": "fancy"}, "custom_field_names"),
        ({"lookback_window": "a while"}, "lookback_window 'a while' is not a duration"),
        ({"plan": "platinum"}, "plan 'platinum' is unknown"),
        ({"read_ahead_streams": 20}, "read_ahead_streams '20' must be a whole number"),
        ({"read_ahead_streams": "three"}, "read_ahead_streams"),
        ({"time_windows": 0}, "time_windows '0' must be a whole number"),
        ({"time_windows": "eight"}, "time_windows"),
        ({"progress_interval": -1}, "progress_interval '-1' must be a number of seconds"),
        ({"progress_interval": "often"}, "progress_interval"),
        # a company that does not exist: every path answers 404
        ({"api_url": "{sandbox}/no-such-company"}, "check company_domain"),
    ],
)
def test_bad_settings_fail_with_one_clear_line(sandbox, config_file, settings, expected) -> None:
    from pathlib import Path

    path = Path(config_file(**settings))
    data = {k: v for k, v in json.loads(path.read_text()).items() if v is not None}
    if "{sandbox}" in data.get("api_url", ""):
        data["api_url"] = data["api_url"].replace("{sandbox}", sandbox.api_url)
    path.write_text(json.dumps(data))
    path = str(path)
    result = run_command(["--config", path])
    assert result.returncode != 0
    errors = [
        line for line in result.stderr.splitlines() if "ERROR" in line or "tap-pipedrive:" in line
    ]
    assert any(expected in line for line in errors), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "wrong-token-123456" not in result.stderr + result.stdout
    assert "sandbox-token" not in result.stderr + result.stdout
