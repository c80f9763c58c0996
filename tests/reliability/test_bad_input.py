"""Bad settings and bad input, through the commands: a non-zero exit and exactly one line
saying what is wrong, naming the setting or the record; no traceback and never the token."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.tap.runner import TAP, config_for
from tests.target.feed import OURS, config, message, singer_lines, target_command

from .one_line import WRONG, one_clear_line


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"api_token": None}, "api_token is missing"),
        ({"api_token": WRONG}, "rejected the API token"),
        ({"api_url": None, "company_domain": "no such domain!"}, "company_domain"),
        ({"api_url": "http://example.com"}, "plain http to a non-loopback host"),
        ({"anchor_date": "the other day"}, "anchor_date 'the other day'"),
    ],
    ids=["missing token", "wrong token", "unknown domain", "http url", "bad anchor_date"],
)
def test_tap_bad_configuration(sandbox, tmp_path, settings, expected) -> None:
    cfg = {k: v for k, v in {**config_for(sandbox), **settings}.items() if v is not None}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    result = subprocess.run(
        [TAP, "--config", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    one_clear_line(result, "tap-pipedrive", expected)


def _target(sb, tmp_path, stdin: str, **settings) -> subprocess.CompletedProcess:
    cfg = {k: v for k, v in {**config(sb, tmp_path), **settings}.items() if v is not None}
    return target_command(cfg, tmp_path / "target.json", stdin)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"stage_name": "Nope"}, "stage 'Nope'"),
        ({"api_token": WRONG}, "rejected the API token"),
        ({"own_emails": None, "own_domains": None}, "own_emails or own_domains is missing"),
        ({"api_url": "http://example.com"}, "plain http to a non-loopback host"),
    ],
    ids=["unknown stage", "wrong token", "no own addresses", "http url"],
)
def test_target_bad_configuration(sandbox, tmp_path, settings, expected) -> None:
    good = singer_lines([message("m1", "ann@acme.example", [OURS])])
    one_clear_line(_target(sandbox, tmp_path, good, **settings), "target-pipedrive", expected)


def _bad(**fields) -> dict:
    return {**message("bad1", "ann@acme.example", [OURS]), **fields}


@pytest.mark.parametrize(
    ("stdin", "expected"),
    [
        ("this is not json\n", "not Singer JSON"),
        (singer_lines([_bad(id=None)]), "field 'id'"),
        (singer_lines([_bad(date="yesterday-ish")]), "field 'date'"),
        (singer_lines([_bad(to="x")]), "field 'to'"),
        (singer_lines([_bad(**{"from": [{"email": "not an address"}]})]), "field 'from'"),
    ],
    ids=["not json", "no id", "bad date", "wrong type", "bad address"],
)
def test_target_bad_input(sandbox, tmp_path, stdin, expected) -> None:
    good = singer_lines([message("good1", "bo@beta.example", [OURS])])
    result = _target(sandbox, tmp_path, good + stdin)
    one_clear_line(result, "target-pipedrive", expected)
    # nothing lost: once the bad line is fixed (here: left out), a rerun writes the message
    # before it exactly once, whether or not the failed run had got to it
    assert _target(sandbox, tmp_path, good).returncode == 0
    notes = [a.get("note") or "" for a in sandbox.store.tables["activities"].values()]
    assert sum("Email id: good1</p>" in n for n in notes) == 1
