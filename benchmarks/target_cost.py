"""What target-pipedrive costs per email, next to a naive search-and-create-per-message script.

Generates a deterministic mailbox sample (by default 1,000 messages over 200 counterparts: some
already in the CRM, some on free-mail domains, threads with replies), runs

- `ours`: target-pipedrive (in-process, on the shared client, with a fresh ledger), then the
  same input again (the idempotent rerun), then the same input with a new, empty ledger (a lost
  ledger: a fresh container, CI), which must find what Pipedrive has and write nothing again;
- `naive`: for every message, search the organization and the person, create what is missing,
  and log the activity, the way the usual script does (on the same paced client);

each against its own fresh sandbox, and reads requests and API tokens from the sandbox's own
accounting. Prints one table and, with --json, the figures as JSON.

    /work/venv/bin/python benchmarks/target_cost.py [--messages 1000] [--counterparts 200]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipedrive_client import ClientConfig, PipedriveClient
from pipedrive_sandbox import Sandbox
from target_pipedrive.target import TargetPipedrive

OURS = "me@ourco.example"
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com")
START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
# The sandbox has no burst limit unless given a plan; let the client go as fast as it can so the
# run measures requests and tokens, not waiting.
UNPACED = {"max_requests_per_2s": 10_000, "search_requests_per_2s": 10_000}


def sample(sb: Sandbox, messages: int, counterparts: int, seed: int) -> list[dict[str, Any]]:
    """A deterministic mailbox: about 15 % of counterparts are persons already in the CRM, 20 %
    write from free-mail, the rest come two or three to a company domain. Message counts per
    counterpart are skewed (many one-offs, a few long conversations); threads alternate sides
    now and then, so there are replies."""
    rng = random.Random(seed)
    existing = []
    for pid in sb.ids("persons")[: counterparts * 15 // 100]:
        row = sb.store.get("persons", pid)
        existing.append((row["name"], row["emails"][0]["value"]))
    people = list(existing)
    n_free = counterparts // 5
    for i in range(n_free):
        people.append((f"Free Person {i}", f"free.person{i}@{FREE_MAIL[i % len(FREE_MAIL)]}"))
    i = 0
    while len(people) < counterparts:
        people.append((f"Contact {i}", f"contact{i}@company{i // 3}.example"))
        i += 1
    rng.shuffle(people)
    weights = [1 / (rank + 1) ** 0.8 for rank in range(counterparts)]
    counts = [1] * counterparts
    for _ in range(messages - counterparts):
        counts[rng.choices(range(counterparts), weights)[0]] += 1
    out: list[dict[str, Any]] = []
    for (name, email), count in zip(people, counts, strict=True):
        when = START + timedelta(hours=rng.randint(0, 24 * 20))
        thread, in_thread, previous_id = None, 0, None
        for _ in range(count):
            if thread is None or in_thread >= rng.randint(1, 4):
                thread, in_thread, previous_id = f"t{len(out)}", 0, None
            inbound = rng.random() < 0.6
            when += timedelta(hours=rng.randint(1, 30))
            mid = f"<m{len(out)}@bench>"
            them = [{"name": name, "email": email}]
            me = [{"name": "Me", "email": OURS}]
            out.append(
                {
                    "id": mid,
                    "thread_id": thread,
                    "subject": f"Re: topic {thread}",
                    "snippet": f"Message {len(out)} <about> the deal & more",
                    "date": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "from": them if inbound else me,
                    "to": me if inbound else them,
                    "cc": [],
                    "bcc": [],
                    "reply_to": [],
                    "in_reply_to": previous_id,
                }
            )
            previous_id = mid
            in_thread += 1
    out.sort(key=lambda m: (m["date"], m["id"]))
    return out


def singer_input(messages: list[dict[str, Any]]) -> str:
    schema = json.loads(
        (Path(__file__).parents[1] / "target_pipedrive" / "schemas" / "messages.json").read_text()
    )
    lines = [{"type": "SCHEMA", "stream": "messages", "schema": schema, "key_properties": ["id"]}]
    lines += [{"type": "RECORD", "stream": "messages", "record": m} for m in messages]
    lines.append({"type": "STATE", "value": {"bookmarks": {"messages": {"n": len(messages)}}}})
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def run_ours(
    sb: Sandbox, messages: list[dict[str, Any]], ledger: Path, client_stats: dict | None = None
) -> dict[str, Any]:
    """One run; `client_stats`, if given, receives the client's own count (RunStats)."""
    config = {
        "api_url": sb.api_url,
        "api_token": sb.token,
        "own_emails": [OURS],
        "ledger": str(ledger),
        **UNPACED,
    }
    target = TargetPipedrive(config=config)
    with contextlib.redirect_stdout(io.StringIO()):  # the STATE lines
        target.listen(file_input=io.StringIO(singer_input(messages)))
    if client_stats is not None:
        stats = target.client.stats
        client_stats.update(requests=stats.requests, tokens=stats.tokens)
    return dict(getattr(getattr(target, "writer", None), "created", {}) or {})


def run_naive(sb: Sandbox, messages: list[dict[str, Any]]) -> dict[str, int]:
    """Search and create per message: what most email-to-CRM scripts do."""
    client = PipedriveClient(ClientConfig(api_url=sb.api_url, api_token=sb.token, **UNPACED))
    created = {"organization": 0, "person": 0, "activity": 0}
    for message in messages:
        inbound = message["from"][0]["email"] != OURS
        them = message["from"][0] if inbound else message["to"][0]
        domain = them["email"].split("@", 1)[1]
        org_id = None
        if domain not in FREE_MAIL:
            orgs = client.search_organizations(domain, exact=True)
            if orgs:
                org_id = orgs[0]["id"]
            else:
                org_id = client.create_organization(name=domain)["id"]
                created["organization"] += 1
        persons = client.search_persons(them["email"], fields="email", exact=True)
        if persons:
            person_id = persons[0]["id"]
        else:
            body: dict[str, Any] = {
                "name": them["name"],
                "emails": [{"value": them["email"], "primary": True, "label": "work"}],
            }
            if org_id:
                body["org_id"] = org_id
            person_id = client.add_person(**body)["id"]
            created["person"] += 1
        when = message["date"]
        client.create_activity(
            subject=message["subject"],
            type="email",
            done=True,
            due_date=when[:10],
            due_time=when[11:16],
            person_id=person_id,
            **({"org_id": org_id} if org_id else {}),
            note=message["snippet"],
        )
        created["activity"] += 1
    client.close()
    return created


def measure(name: str, messages: list[dict[str, Any]], size: str, run: Any) -> dict[str, Any]:
    """Run `run(sandbox)` on a fresh sandbox; it returns (objects created, extra figures)."""
    with Sandbox(seed=1, size=size) as sb:
        sb.reset_stats()
        started = time.monotonic()
        created, extra = run(sb)
        seconds = time.monotonic() - started
        stats = extra.pop("stats", None) or sb.stats()
    n = len(messages)
    return {
        "run": name,
        "messages": n,
        "requests": stats["requests"],
        "tokens": stats["tokens"],
        "requests_per_message": round(stats["requests"] / n, 3),
        "tokens_per_message": round(stats["tokens"] / n, 2),
        "seconds": round(seconds, 1),
        "created": created,
        **extra,
        "by_endpoint": stats["by_endpoint"],
    }


def compare(
    messages: int = 1000, counterparts: int = 200, seed: int = 6, size: str = "small"
) -> dict[str, Any]:
    """Ours (and its rerun) against search-and-create per message, on the same sample."""
    with Sandbox(seed=1, size=size) as probe:
        sample_messages = sample(probe, messages, counterparts, seed)

    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "ledger.db"

        def ours_twice(sb: Sandbox) -> tuple[dict[str, Any], dict[str, Any]]:
            created = run_ours(sb, sample_messages, ledger)
            first = sb.stats()
            sb.reset_stats()
            again = run_ours(sb, sample_messages, ledger)
            rerun = sb.stats()
            sb.reset_stats()
            client: dict[str, int] = {}
            lost = run_ours(sb, sample_messages, Path(tmp) / "new" / "ledger.db", client)
            empty = sb.stats()
            return created, {
                "stats": first,
                "rerun": {
                    "requests": rerun["requests"],
                    "tokens": rerun["tokens"],
                    "created": {k: v for k, v in again.items() if v},
                },
                "rerun_new_ledger": {
                    "requests": empty["requests"],
                    "tokens": empty["tokens"],
                    "client": client,
                    "created": {k: v for k, v in lost.items() if v},
                    "by_endpoint": {
                        name: {"requests": e["requests"], "tokens": e["tokens"]}
                        for name, e in empty["by_endpoint"].items()
                    },
                },
            }

        ours = measure("ours", sample_messages, size, ours_twice)
        naive = measure(
            "naive", sample_messages, size, lambda sb: (run_naive(sb, sample_messages), {})
        )
    return {"ours": ours, "naive": naive}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--counterparts", type=int, default=200)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--size", default="small", help="sandbox size (existing CRM data)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    result = compare(args.messages, args.counterparts, args.seed, args.size)
    ours, naive = result["ours"], result["naive"]

    print(
        f"{args.messages} messages over {args.counterparts} counterparts "
        f"(sandbox size {args.size}, sample seed {args.seed})"
    )
    header = f"{'run':<8}{'requests':>10}{'tokens':>10}{'req/msg':>10}{'tok/msg':>10}"
    print(header)
    for row in (ours, naive):
        print(
            f"{row['run']:<8}{row['requests']:>10}{row['tokens']:>10}"
            f"{row['requests_per_message']:>10}{row['tokens_per_message']:>10}"
        )
    rerun = ours["rerun"]
    print(
        f"rerun of the same input (ours): {rerun['requests']} requests, {rerun['tokens']} "
        f"tokens, objects created: {rerun['created'] or 'none'}"
    )
    lost = ours["rerun_new_ledger"]
    print(
        f"rerun with a new, empty ledger (ours): {lost['requests']} requests, {lost['tokens']} "
        f"tokens (the client counted {lost['client']['requests']} and "
        f"{lost['client']['tokens']}), objects created: {lost['created'] or 'none'}"
    )
    print(f"ours created: {ours['created']}")
    print(f"naive created: {naive['created']}")
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
