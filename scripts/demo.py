"""The demo: a local Pipedrive sandbox, a full tap sync, the email write-back, changes, and an
incremental sync.

Run from the repository root (README.md gives the one command that prepares .venv first):
    .venv/bin/python scripts/demo.py

It starts `pipedrive-sandbox`, syncs every default stream with `tap-pipedrive` into JSON lines
under demo-output/, prints records per stream and the API cost, writes the shipped sample of
emails (demo/emails.jsonl) back with `target-pipedrive` and shows what it created, changes a few
records in the sandbox, syncs again from the saved state to show that only the changes move, and
stops the sandbox whatever happens.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(port: int) -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen(
        [str(BIN / "pipedrive-sandbox"), "--port", str(port), "--seed", "1", "--size", "small"],
        stdout=subprocess.PIPE,
        text=True,
    )
    settings: dict[str, str] = {}
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while len(settings) < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        key, _, value = line.strip().partition("=")
        if key in ("api_url", "token"):
            settings[key] = value
    if len(settings) < 2:
        proc.kill()
        sys.exit("The sandbox did not start; see its output above.")
    return proc, settings["api_url"], settings["token"]


def run_tap(config: Path, state: Path | None, out: Path) -> tuple[Counter, dict | None]:
    cmd = [str(BIN / "tap-pipedrive"), "--config", str(config)]
    if state is not None:
        cmd += ["--state", str(state)]
    with out.open("w") as sink:
        subprocess.run(cmd, stdout=sink, check=True)
    counts: Counter = Counter()
    last_state = None
    for line in out.read_text().splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            counts[message["stream"]] += 1
        elif message["type"] == "STATE":
            last_state = message["value"]
    return counts, last_state


def write_back(api_url: str, token: str) -> None:
    """Feed the sample mailbox to target-pipedrive and show what it made."""
    admin = f"{api_url}/_admin"
    before = requests.get(f"{admin}/counts", timeout=10).json()
    config = OUT / "target-config.json"
    config.write_text(
        json.dumps(
            {
                "api_url": api_url,
                "api_token": token,
                "own_emails": ["alex@ourco.example"],
                "ledger": str(OUT / "ledger.db"),
            }
        )
    )
    schema = {
        "type": "SCHEMA",
        "stream": "messages",
        "key_properties": ["id"],
        "schema": json.loads((ROOT / "target_pipedrive/schemas/messages.json").read_text()),
    }
    lines = [json.dumps(schema)]
    lines += [
        json.dumps({"type": "RECORD", "stream": "messages", "record": json.loads(x)})
        for x in (ROOT / "demo/emails.jsonl").read_text().splitlines()
        if x.strip()
    ]
    subprocess.run(
        [str(BIN / "target-pipedrive"), "--config", str(config)],
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    after = requests.get(f"{admin}/counts", timeout=10).json()
    print(f"\nEmail write-back of {len(lines) - 1} messages created in Pipedrive:")
    for entity in ("organizations", "persons", "leads", "deals", "activities", "person_fields"):
        print(f"  {entity:<22} {after[entity] - before[entity]:>7}")


def show(title: str, counts: Counter) -> None:
    print(f"\n{title}")
    for stream, n in sorted(counts.items()):
        print(f"  {stream:<22} {n:>7}")
    print(f"  {'total':<22} {sum(counts.values()):>7}")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    port = free_port()
    sandbox, api_url, token = start_sandbox(port)
    try:
        print(f"Sandbox running at {api_url}")
        config = OUT / "tap-config.json"
        config.write_text(json.dumps({"api_url": api_url, "api_token": token}))
        admin = f"{api_url}/_admin"

        counts, state = run_tap(config, None, OUT / "full-sync.jsonl")
        show("Full sync: records per stream", counts)
        stats = requests.get(f"{admin}/stats", timeout=10).json()
        print(f"  API cost: {stats['requests']} requests, {stats['tokens']} tokens")

        write_back(api_url, token)

        changed = {}
        for entity, action in (("deals", "update"), ("persons", "update"), ("deals", "delete")):
            body = {"action": action, "entity": entity, "n": 5}
            changed[f"{action} {entity}"] = requests.post(
                f"{admin}/churn", json=body, timeout=10
            ).json()
        print("\nChanged in the sandbox: " + ", ".join(f"5 x {k}" for k in changed))

        state_file = OUT / "state.json"
        state_file.write_text(json.dumps(state or {}))
        requests.post(f"{admin}/reset-stats", timeout=10)
        counts, _ = run_tap(config, state_file, OUT / "incremental-sync.jsonl")
        show("Incremental sync from the saved state: records per stream", counts)
        stats = requests.get(f"{admin}/stats", timeout=10).json()
        print(f"  API cost: {stats['requests']} requests, {stats['tokens']} tokens")
        print(f"\nSinger output is in {OUT.relative_to(ROOT)}/")
    finally:
        sandbox.terminate()
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.kill()
        print("Sandbox stopped.")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
