"""Build Singer input for the target and run it against a sandbox."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from target_pipedrive.target import TargetPipedrive

OURS = "me@ourco.example"
BASE = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
SCHEMAS = resources.files("target_pipedrive").joinpath("schemas")
MESSAGE_SCHEMA = json.loads(SCHEMAS.joinpath("messages.json").read_text())
EVENT_SCHEMA = json.loads(SCHEMAS.joinpath("events.json").read_text())


def message(
    mid: str, sender: str, to: list[str], thread: str = "t1", hours: float = 0, **extra: Any
) -> dict:
    return {
        "id": mid,
        "thread_id": thread,
        "subject": f"Subject {mid}",
        "snippet": f"Hello <b>{mid}</b> & more",
        "date": (BASE + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "from": [{"name": sender.split("@", maxsplit=1)[0].title(), "email": sender}],
        "to": [{"name": "", "email": t} for t in to],
        **extra,
    }


def singer_lines(messages: list[dict], events: list[dict] | None = None) -> str:
    lines = [
        {"type": "SCHEMA", "stream": "messages", "schema": MESSAGE_SCHEMA, "key_properties": ["id"]}
    ]
    lines += [{"type": "RECORD", "stream": "messages", "record": m} for m in messages]
    if events:
        lines.append(
            {
                "type": "SCHEMA",
                "stream": "events",
                "schema": EVENT_SCHEMA,
                "key_properties": ["id"],
            }
        )
        lines += [{"type": "RECORD", "stream": "events", "record": e} for e in events]
    lines.append({"type": "STATE", "value": {"bookmarks": {"messages": {"n": len(messages)}}}})
    return "\n".join(json.dumps(x) for x in lines) + "\n"


def config(sb: Any, tmp_path: Any, **extra: Any) -> dict:
    return {
        "api_url": sb.api_url,
        "api_token": sb.token,
        "own_emails": [OURS],
        "own_domains": ["ourco.example"],
        "ledger": str(tmp_path / "ledger.db"),
        # The sandbox runs without a plan unless a test sets one: no need to pace slowly.
        "max_requests_per_2s": 400,
        **extra,
    }


def run(cfg: dict, messages: list[dict], events: list[dict] | None = None) -> TargetPipedrive:
    target = TargetPipedrive(config=cfg)
    target.listen(file_input=io.StringIO(singer_lines(messages, events)))
    return target
