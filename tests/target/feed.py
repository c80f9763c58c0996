"""Build Singer input for the target and run it against a sandbox."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from target_pipedrive.target import TargetPipedrive

TARGET = str(Path(sys.executable).parent / "target-pipedrive")
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


def run_command(sb: Any, cfg_file: str, lines: str, kill_after: int | None = None) -> int:
    """Run the target command on `lines`; with `kill_after`, SIGKILL it once the sandbox has
    seen that many more requests (or it ended). Returns its exit code."""
    start = sb.stats()["requests"]
    proc = subprocess.Popen(
        [TARGET, "--config", cfg_file],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(lines)
    proc.stdin.close()
    if kill_after is not None:
        deadline = time.monotonic() + 60
        while (
            sb.stats()["requests"] - start < kill_after
            and proc.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.002)
        proc.kill()
    return proc.wait(timeout=120)


def spread(n: int, people: int = 12) -> list[dict]:
    """n messages over `people` counterparts on 5 company domains, a third of them outbound."""
    return _conversations(n, lambda i: f"p{i % people}@firm{i % people % 5}.example", "w", "t")


ENTITIES = ("organizations", "persons", "leads", "deals", "activities")


def sample(n: int = 40) -> list[dict]:
    return _conversations(n, lambda i: f"c{i % 12}@co{i % 5}.example", "s", "th")


def _conversations(n: int, address: Any, prefix: str, thread: str) -> list[dict]:
    out = []
    for i in range(n):
        who = address(i)
        if i % 3 == 0:
            out.append(message(f"{prefix}{i}", OURS, [who], thread=f"{thread}{i % 7}", hours=i))
        else:
            out.append(message(f"{prefix}{i}", who, [OURS], thread=f"{thread}{i % 7}", hours=i))
    return out


def target_command(cfg: dict, path: Path, lines: str) -> subprocess.CompletedProcess:
    """The target as a command, its config written to `path`."""
    path.write_text(json.dumps(cfg))
    return subprocess.run(
        [TARGET, "--config", str(path)],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def counts(sb) -> dict:
    return {e: sb.count(e) for e in ENTITIES}


def clean_run_counts(sandbox_factory, tmp_path: Path, msgs: list[dict]) -> dict:
    """What the same input makes in a fresh sandbox, run once without interruption."""
    clean = sandbox_factory()
    before = counts(clean)
    run(config(clean, tmp_path / "clean"), msgs)
    return {e: n - before[e] for e, n in counts(clean).items()}


def config_file(tmp_path: Path, cfg: dict) -> str:
    path = tmp_path / f"config-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(cfg))
    return str(path)
