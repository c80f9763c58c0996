"""Run the tap in-process or as a command and collect its Singer messages."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_pipedrive.tap import TapPipedrive

TAP = str(Path(sys.executable).parent / "tap-pipedrive")


@dataclass
class Output:
    records: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    states: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)

    @property
    def state(self) -> dict | None:
        return self.states[-1] if self.states else None

    def ids(self, stream: str) -> list:
        return [r["id"] for r in self.records[stream]]


def parse(lines: list[str]) -> Output:
    out = Output()
    for line in lines:
        if not line.strip():
            continue
        message = json.loads(line)
        out.messages.append(message)
        if message["type"] == "RECORD":
            out.records[message["stream"]].append(message["record"])
        elif message["type"] == "STATE":
            out.states.append(message["value"])
    return out


def config_for(sb: Any, **extra: Any) -> dict:
    config = {"api_url": sb.api_url, "api_token": sb.token, "anchor_date": "2020-01-01"}
    if sb.limits.plan is None:
        # The sandbox runs without a plan unless a test sets one (as tests/target/feed.py says):
        # no need to pace at the lowest plan's 20 requests per 2 s, which made a small company's
        # sync wait 2 s for nothing. A sandbox with a plan is paced as the settings say.
        config["max_requests_per_2s"] = 400
    return {**config, **extra}


def run(config: dict, state: dict | None = None, catalog: dict | None = None) -> Output:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tap = TapPipedrive(config=config, state=state, catalog=catalog)
        tap.sync_all()
    return parse(buffer.getvalue().splitlines())


def run_command(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [TAP, *args], capture_output=True, text=True, timeout=120, check=False, **kwargs
    )


def catalog_selecting(config: dict, streams: set[str]) -> dict:
    """The discovered catalog with exactly `streams` selected."""
    catalog = TapPipedrive(config=config).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog
