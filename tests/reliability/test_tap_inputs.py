"""A new user's mistakes with the tap's files and settings, through the command: each ends in
exactly one line that names the file, stream or setting (no traceback, never the token), or,
where the tap can carry on, in a warning that says what it did."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.tap.runner import TAP, catalog_selecting, config_for

from .one_line import one_clear_line


def _tap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TAP, *args], capture_output=True, text=True, timeout=120, check=False)


def _write(path: Path, content: object) -> str:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def _deals_only(sandbox, tmp_path: Path, config: dict) -> str:
    return _write(tmp_path / "catalog.json", catalog_selecting(config, {"deals"}))


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("{not json", "is not JSON (Expecting property name"),
        ("[1, 2]", "must hold a JSON object"),
        (
            {"bookmarks": {"notes": {"replication_key_value": "last tuesday"}}},
            "stream 'notes' has the bookmark 'last tuesday', which is not a time",
        ),
        (
            {
                "bookmarks": {
                    "deals": {
                        "partitions": [
                            {"context": {"is_archived": False}, "replication_key_value": 42}
                        ]
                    }
                }
            },
            "stream 'deals' (partition is_archived=False) has the bookmark '42'",
        ),
    ],
    ids=["not json", "not an object", "bookmark not a time", "partition bookmark"],
)
def test_a_bad_state_file_is_named_in_one_line(sandbox, tmp_path, state, expected) -> None:
    config = _write(tmp_path / "config.json", config_for(sandbox))
    state_file = _write(tmp_path / "state.json", state)
    result = _tap("--config", config, "--state", state_file)
    one_clear_line(result, "tap-pipedrive", expected)
    assert f"state file {state_file}" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "does not exist"), ('{"api_token": ', "is not JSON")],
    ids=["missing", "not json"],
)
def test_a_bad_config_file_is_named_in_one_line(tmp_path, content, expected) -> None:
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    result = _tap("--config", str(path))
    one_clear_line(result, "tap-pipedrive", f"config file {path} {expected}")


def test_a_bad_start_date_beside_a_good_anchor_date_is_refused(sandbox, tmp_path) -> None:
    """Before: start_date was not looked at when anchor_date was set, and the SDK used it."""
    config = config_for(sandbox, anchor_date="2024-01-01", start_date="someday")
    result = _tap("--config", _write(tmp_path / "config.json", config))
    one_clear_line(result, "tap-pipedrive", "start_date 'someday' is not a date")


@pytest.mark.parametrize("suffix", ["/api/v1", "/api/v2/"])
def test_an_api_url_with_the_api_path_works(sandbox, tmp_path, suffix) -> None:
    """Before: requests went to /api/v2/api/v2/... and every one answered 404."""
    config = config_for(sandbox)
    config["api_url"] += suffix
    result = _tap(
        "--config",
        _write(tmp_path / "config.json", config),
        "--catalog",
        _deals_only(sandbox, tmp_path, config_for(sandbox)),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"stream":"deals"' in result.stdout.replace(" ", "")


def test_nothing_listening_at_api_url_fails_in_seconds(tmp_path) -> None:
    """Before: eight tries with backoff, about 49 s, then a message about retries."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {"api_url": f"http://127.0.0.1:{port}", "api_token": "sandbox-token"}
    started = time.monotonic()
    result = _tap("--config", _write(tmp_path / "config.json", config))
    assert time.monotonic() - started < 20  # the interpreter's start-up included
    one_clear_line(result, "tap-pipedrive", f"cannot connect to 127.0.0.1:{port}")


def test_unknown_settings_and_streams_are_warned_about(sandbox, tmp_path) -> None:
    config = config_for(
        sandbox,
        anchor_dat="2024-01-01",
        lookback_windows=60,
        # known: the SDK's own, and the client's tuning
        emit_activate_version_messages=False,
        backoff_base_seconds=0.5,
        stream_maps={},
    )
    catalog = catalog_selecting(config_for(sandbox), {"deals"})
    catalog["streams"].append(
        {
            "tap_stream_id": "deal_flows",
            "stream": "deal_flows",
            "schema": {"type": "object", "properties": {}},
            "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
        }
    )
    result = _tap(
        "--config",
        _write(tmp_path / "config.json", config),
        "--catalog",
        _write(tmp_path / "catalog.json", catalog),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Unknown setting 'anchor_dat' is ignored (did you mean 'anchor_date'?)" in result.stderr
    assert "Unknown setting 'lookback_windows'" in result.stderr
    assert result.stderr.count("Unknown setting") == 2
    assert "selects stream 'deal_flows', which tap-pipedrive does not have" in result.stderr
