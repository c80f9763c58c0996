"""RESULTS.md and results.png from one run's figures (results.json), each goal marked met or not.

.venv/bin/python benchmarks/report.py [benchmarks/results.json]   (re-renders only)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _answered(row: dict[str, Any]) -> str:
    """The ratio to the bound plus the last answer's round trip, where measured."""
    if row.get("ratio_answered") is None:
        return "the bound with the last answer not measured"
    return f"{row['ratio_answered']}x of {row['bound_answered_seconds']} s with the last answer"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def goals(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(goal, measured, verdict) for every goal of the benchmark issue."""
    rows = []
    t = r["throughput"]
    ours, peer = t["ours"]["default"], t["peer"]
    x = ratio(ours["records_per_s"], peer["records_per_s"])
    rows.append(
        (
            "tap records/s, the SDK's type conformance on, ≥ 4x the peer's",
            f"{ours['records_per_s']:,} vs {peer['records_per_s']:,} records/s = {x:.2f}x",
            verdict(x >= 4),
        )
    )
    c = r["api_cost"]["ours"]
    x = ratio(c["full"]["tokens"], c["bound_full"]["tokens"])
    rows.append(
        (
            "full sync tokens ≤ 1.05x the lower bound",
            f"{c['full']['tokens']:,} vs {c['bound_full']['tokens']:,} tokens = {x:.3f}x",
            verdict(x <= 1.05),
        )
    )
    n, bound = c["no_change"]["requests"], c["bound_no_change"]["requests"]
    rows.append(
        (
            "no-change run ≤ 1 request per stream",
            f"{n} requests for {bound} stream lists",
            verdict(n <= bound),
        )
    )
    shipped = goal_rows(r["rate_limited"])
    rows.append(
        (
            "rate-limited wall ≤ 1.10x the bound at 100, 400 and 1,000 ms, zero 429s",
            "; ".join(
                f"{row['latency_s'] * 1000:.0f} ms: {row['seconds']} s vs "
                f"{row['bound_seconds']} s = {row['ratio']}x{_runs(row)} "
                f"({_answered(row)}), {row['answered_429']} answered 429{_split(row)}"
                for row in shipped
            ),
            verdict(
                bool(shipped)
                and all(
                    row["ratio"] is not None and row["ratio"] <= 1.10 and not row["answered_429"]
                    for row in shipped
                )
            ),
        )
    )
    small, big = r["scale"][0], r["scale"][-1]
    mem = ratio(big["peak_rss_mb"], small["peak_rss_mb"])
    rows.append(
        (
            "scale: memory flat (within 20%)",
            f"{small['peak_rss_mb']} MB at {small['records']:,} records, "
            f"{big['peak_rss_mb']} MB at {big['records']:,} = {mem:.2f}x",
            verdict(mem <= 1.20),
        )
    )
    per_small = small["seconds"] / small["records"]
    per_big = big["seconds"] / big["records"]
    lin = ratio(per_big, per_small)
    rows.append(
        (
            "scale: time linear (time per record within 20%)",
            f"{per_small * 1e6:.0f} µs/record at {small['records']:,}, "
            f"{per_big * 1e6:.0f} µs/record at {big['records']:,} = {lin:.2f}x",
            verdict(lin <= 1.20),
        )
    )
    tg = r["target"]
    x = ratio(tg["naive"]["tokens"], tg["ours"]["tokens"])
    # Every email must become an activity: those creations alone set a floor on tokens.
    activities = tg["ours"]["by_endpoint"].get("POST /api/v2/activities", {}).get("tokens", 0)
    floor = activities / tg["ours"]["messages"]
    rows.append(
        (
            "target: ≥ 10x fewer tokens than search-and-create",
            f"{tg['ours']['tokens_per_message']} vs {tg['naive']['tokens_per_message']} "
            f"tokens/message = {x:.1f}x fewer; creating the one activity each email needs "
            f"costs {floor:.1f} tokens/message, so no writer can do better than "
            f"{ratio(tg['naive']['tokens_per_message'], floor):.1f}x",
            verdict(x >= 10),
        )
    )
    rows += history_goals(r.get("history"))
    rows += pipeline_goals(r.get("pipeline"))
    return rows


def _pipeline_rate(p: dict[str, Any], contender: str, mode: str, records: int) -> float | None:
    return next(
        (
            row["records_per_s"]
            for row in p["rows"]
            if row["plan"] is None
            and row["target_records"] == records
            and row["contender"] == contender
            and row["mode"] == mode
            and row["loader"] == "target-postgres"
            and not any(row["returncodes"])
        ),
        None,
    )


def pipeline_goals(p: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """Ours through `meltano run` against the peer piped straight into the same loader, at
    every zero-latency size; the goal is met only if it is met at each."""
    if not p:
        return []
    sizes = sorted({row["target_records"] for row in p["rows"] if row["plan"] is None})
    if not sizes:
        return []
    parts, ok = [], True
    for n in sizes:
        ours = _pipeline_rate(p, "ours", "meltano run", n)
        theirs = _pipeline_rate(p, "peer", "piped into the loader (no Meltano)", n)
        if ours is None or theirs is None:
            parts.append(f"{n:,}: a run failed")
            ok = False
            continue
        x = ratio(ours, theirs)
        ok = ok and x >= 2
        parts.append(f"{n:,} records: {ours:,} vs {theirs:,} records/s = {x:.2f}x")
    return [
        (
            "end-to-end records/s into PostgreSQL ≥ 2x the peer's pipeline into the same loader "
            "(ours: `meltano run`; the peer piped into the same target-postgres)",
            "; ".join(parts),
            verdict(ok),
        )
    ]


def history_goals(h: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    if not h:
        return []
    ours, peer = h["ours"], h["peer"]
    first, hourly = (
        ours["first"]["history_tokens_per_deal"],
        ours["hourly"]["history_tokens_per_deal"],
    )
    return [
        (
            "history: first run ≤ 20 tokens per deal (the peer's dealflow: 40 a deal)",
            f"{first} tokens/deal ({ours['first']['history_tokens']:,} for {h['deals']:,} "
            f"deals) vs the peer's {peer['first']['history_tokens_per_deal']}",
            verdict(first <= 20),
        ),
        (
            "history: hourly run ≤ 20 tokens per changed deal",
            f"{hourly} tokens per changed deal ({ours['moved']} changed) vs the peer's "
            f"{peer['hourly']['history_tokens_per_deal']}",
            verdict(hourly <= 20),
        ),
    ]


def history_section(h: dict[str, Any] | None) -> list[str]:
    if not h:
        return []
    rows = [
        [
            who,
            run,
            h[key][run]["records"],
            h[key][run]["requests"],
            f"{h[key][run]['tokens']:,}",
            f"{h[key][run]['history_requests']:,}",
            f"{h[key][run]['history_tokens']:,}",
            h[key][run]["history_tokens_per_deal"],
            h[key][run]["seconds"],
        ]
        for key, who in (("ours", "ours"), ("peer", "singer-io 2.1.0 `dealflow`"))
        for run in ("first", "hourly")
    ]
    return [
        f"## Deal history ({h['deals']:,} deals; hourly: after {h['ours']['moved']} deals, "
        f"{h['changed_share']:.0%} of the live ones, moved a stage through the API)",
        "",
        "Ours: `deals`, `deal_changes`, `deal_stage_changes`, history cap lifted. The peer: "
        "`dealflow` (its deal list and one `/v1/deals/{id}/flow` per deal added or moved). "
        "History requests and tokens are those of the per-deal endpoint alone (the change log, "
        "or the flow); per deal read in the first run, per deal changed in the hourly one. "
        "Command: `.venv/bin/python benchmarks/history.py`.",
        "",
        table(
            [
                "tap",
                "run",
                "records",
                "requests",
                "tokens",
                "history requests",
                "history tokens",
                "history tokens/deal",
                "seconds",
            ],
            rows,
        ),
        "",
    ]


def _proc(row: dict[str, Any], role: str, key: str) -> Any:
    found = row["processes"].get(role)
    return "" if found is None else found[key]


def _pipeline_rows(rows: list[dict[str, Any]], limited: bool) -> list[list[Any]]:
    out = []
    for row in rows:
        failed = [c for c in row["returncodes"] if c]
        loaded = row.get("rows", row.get("records"))
        cells = [
            f"{row['target_records']:,}",
            *([row["plan"], row["limit_per_2s"]] if limited else []),
            "ours" if row["contender"] == "ours" else "singer-io 2.1.0",
            row["mode"] + (f" (**exit {failed}**)" if failed else ""),
            row["loader"] or "",
            row["seconds"],
            f"{loaded:,}",
            f"{row['records_per_s']:,}",
            *(
                [
                    row.get("requests", ""),
                    row.get("answered_429", ""),
                    row.get("max_requests_in_2s", ""),
                ]
                if limited
                else []
            ),
            " / ".join(str(_proc(row, r, "peak_rss_mb")) for r in ("tap", "loader", "meltano")),
            " / ".join(
                str(_proc(row, r, "cpu_s")) for r in ("tap", "loader", "meltano", "discovery")
            ),
            _proc(row, "tap", "first_s"),
            _proc(row, "tap", "last_s"),
            _proc(row, "loader", "last_s"),
            row["sandbox_cpu_s"],
            row["postgres_cpu_s"],
            f"{row['machine_busy']:.0%}",
            row.get("other_cpu_s", ""),
        ]
        out.append(cells)
    return out


def _pipeline_header(limited: bool) -> list[str]:
    return [
        "records",
        *(["plan", "limit/2s"] if limited else []),
        "tap",
        "how",
        "loader",
        "wall s",
        "rows loaded (tap alone: records)",
        "records/s",
        *(["requests", "429s", "most in 2 s"] if limited else []),
        "peak RSS MB tap / loader / Meltano",
        "CPU s tap / loader / Meltano / discovery",
        "sync starts s",
        "tap exits s",
        "loader exits s",
        "sandbox CPU s",
        "PostgreSQL CPU s",
        "CPUs busy",
        "others' CPU s",
    ]


def _split(p: dict[str, Any]) -> list[list[Any]]:
    """Per zero-latency size and loader: where `meltano run`'s wall time goes."""
    rows = [row for row in p["rows"] if row["plan"] is None and row["contender"] == "ours"]

    def find(n: int, mode: str, loader: str | None) -> dict[str, Any] | None:
        return next(
            (
                r
                for r in rows
                if r["target_records"] == n and r["mode"].startswith(mode) and r["loader"] == loader
            ),
            None,
        )

    out = []
    for run in (r for r in rows if r["mode"] == "meltano run"):
        n, loader = run["target_records"], run["loader"]
        alone = find(n, "tap alone", None)
        fed = find(n, "loader alone", loader)
        tap = run["processes"].get("tap", {})
        ld = run["processes"].get("loader", {})
        tap_alone = alone["seconds"] if alone else None
        out.append(
            [
                f"{n:,}",
                loader,
                run["seconds"],
                tap.get("first_s", ""),
                round(tap["last_s"] - tap["first_s"], 1) if tap else "",
                tap_alone if tap_alone is not None else "",
                round(ld["last_s"] - tap["last_s"], 1) if tap and ld else "",
                fed["seconds"] if fed else "not run",
                f"{1 - tap_alone / run['seconds']:.0%}" if tap_alone else "",
            ]
        )
    return out


def pipeline_section(p: dict[str, Any] | None) -> list[str]:
    if not p:
        return []
    zero = [row for row in p["rows"] if row["plan"] is None]
    limited = [row for row in p["rows"] if row["plan"] is not None]
    peer_streams = next((row["streams"] for row in p["rows"] if row["contender"] == "peer"), [])
    ours_streams = next(
        (
            row["per_stream"]
            for row in zero
            if row["mode"].startswith("tap alone") and row["contender"] == "ours"
        ),
        {},
    )
    left_out = "; ".join(f"`{k}`: {v}" for k, v in p["peer_left_out"].items())
    source = p.get("source") or {}
    measured_at = (
        f" Our tap as of commit {source['commit']}"
        + (
            f", with {len(source['changed'])} uncommitted changes in tap_pipedrive/ and "
            "pipedrive_client/ (meltano.yml installs the checkout with `-e .`)."
            if source.get("changed")
            else "."
        )
        if source
        else ""
    )
    parts: list[str] = []
    if zero:
        parts += [
            "## End to end: tap -> loader (full sync, zero added latency, the large company's "
            "proportions)",
            "",
            "Ours: `meltano run tap-pipedrive target-postgres` / `target-duckdb` (loaders as "
            + ", ".join(f"`{v}`" for v in p["loaders"].values())
            + " pin them; the tap's default selection, "
            f"{len(ours_streams)} streams), each into a fresh schema or file with a fresh "
            "Meltano system database. The tap alone: the same executable, config and catalog, "
            "into a file. The loaders alone: fed that file. Piped: the tap's stdout into "
            "target-postgres's stdin with the config Meltano gives it, no Meltano between. The "
            f"peer ({p['peer']}) reads {', '.join(peer_streams)}; left out: {left_out}. "
            "Records/s = rows in the warehouse afterwards / wall seconds (for `meltano run`: "
            "Meltano's start, the tap's discovery, the sync and saving the state). Peak RSS and "
            "CPU seconds per process from /proc, polled every "
            f"{p['poll_s']} s; the times are seconds from the start. PostgreSQL's CPU counts all "
            "its processes (anyone else's queries too); CPUs busy is the whole machine's, and "
            "others' CPU what processes outside the run, the sandbox and PostgreSQL used "
            "meanwhile (on a shared machine, a run with much of it was slowed). "
            "Command: `.venv/bin/python benchmarks/pipeline.py`." + measured_at,
            "",
            table(_pipeline_header(False), _pipeline_rows(zero, False)),
            "",
            "Where `meltano run`'s time goes: before the sync (Meltano's start and the tap's "
            "discovery), the tap's sync inside the run against the tap alone, how long the loader "
            "kept writing after the tap had exited, the loader alone on the tap's output, and the "
            "share of the wall time beyond the tap alone.",
            "",
            table(
                [
                    "records",
                    "loader",
                    "meltano run s",
                    "before the sync s",
                    "tap's sync in the run s",
                    "tap alone s",
                    "loader after the tap s",
                    "loader alone s",
                    "beyond the tap alone",
                ],
                _split(p),
            ),
            "",
        ]
    if limited:
        first = limited[0]
        parts += [
            f"## End to end under the plans' burst limits with {first['latency_ms']} ms added "
            f"latency ({first['target_records']:,} records)",
            "",
            "The sandbox enforces the plan's limit per rolling 2 s and answers every request "
            f"{first['latency_ms']} ms late; our tap is given the plan (`plan` setting) and "
            "nothing else. Requests, 429s and the most requests in any 2 s are the sandbox's "
            "counters for that run.",
            "",
            table(_pipeline_header(True), _pipeline_rows(limited, True)),
            "",
        ]
    return parts


def reconciliation_section(rows: list[dict[str, Any]] | None) -> list[str]:
    if not rows:
        return []
    return [
        "## Deletes reconciliation (`reconcile: true`: the main streams and deal products, read "
        "whole)",
        "",
        "Command: `.venv/bin/python benchmarks/reconcile_cost.py`.",
        "",
        table(
            ["company", "records", "requests", "tokens", "tokens/1,000 records", "seconds"],
            [
                [
                    row["size"],
                    f"{row['records']:,}",
                    f"{row['requests']:,}",
                    f"{row['tokens']:,}",
                    row["tokens_per_1000_records"],
                    row["seconds"],
                ]
                for row in rows
            ],
        ),
        "",
    ]


def _runs(row: dict[str, Any]) -> str:
    """Every run's ratio, when the row is the median of several."""
    runs = row.get("runs_ratio") or []
    return f" (median of {len(runs)} runs: {', '.join(map(str, runs))})" if len(runs) > 1 else ""


def _split(row: dict[str, Any]) -> str:
    """Where a row's wall time went, in a goal's cell."""
    split = row.get("split")
    if not split:
        return ""
    return (
        f"; start {split['start']} s, sending {split['sending']} s, last round trip "
        f"{split['last_round_trip']} s, end {split['end']} s"
    )


def _wall_split_section(rows: list[dict[str, Any]]) -> list[str]:
    """Where each rate-limited row's wall time went, off the sandbox's clock (run_all's
    `wall_split`), beside the least each part can be."""
    rows = [row for row in rows if row.get("split")]
    if not rows:
        return []
    body = []
    for row in rows:
        split = row["split"]
        floor = split["start"] + row["bound_seconds"] + row["latency_s"]
        body.append(
            [
                f"{row['latency_s'] * 1000:.0f}",
                row["time_windows"],
                row["seconds"],
                split["start"],
                f"{split['sending']} (bound {row['bound_seconds']})",
                split["last_round_trip"],
                split["end"],
                f"{floor:.2f} = {floor / row['bound_seconds']:.3f}x",
            ]
        )
    return [
        "Where each row's wall time went, read off the sandbox's clock beside the tap "
        "process's: the start (the interpreter, the imports and the settings, until the first "
        "request arrived), the sending (from the first request's arrival to the last's; the "
        "limit allows no less than the bound), the last request's round trip (at least the "
        "latency), and the end (what was left to write after the last answer, and the exit). "
        "The floor is the start, the bound and one latency: what a client that started as this "
        "one did and wrote nothing after its last answer would take.",
        "",
        table(
            [
                "latency ms",
                "time_windows",
                "wall s",
                "start s",
                "sending s",
                "last round trip s",
                "end s",
                "floor s",
            ],
            body,
        ),
        "",
    ]


def goal_rows(rate_limited: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's case: the tap as shipped, at each latency."""
    return [row for row in rate_limited if row["time_windows"] == "default"]


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    t, c, tg = r["throughput"], r["api_cost"], r["target"]
    rl = r["rate_limited"][0]
    parts = [
        "# Benchmark results",
        "",
        "Written by `benchmarks/run_all.py` from one run; every figure below was measured in it"
        + (" (**quick smoke run: small sizes, not figures to quote**)." if r["quick"] else "."),
        f"Machine: {m['platform']}, Python {m['python']}, {m['cpus']} CPUs ({m['processor']}), "
        f"{m['date']}. Sandbox and tap run as separate processes on the same machine; requests "
        "and tokens are the sandbox's own counters; peak RSS is the tap process's maximum "
        "resident set, from GNU time.",
        "",
        "![results](results.png)",
        "",
        "## Goals",
        "",
        table(["goal", "measured", "verdict"], [list(g) for g in goals(r)]),
        "",
        f"## Throughput at zero latency (size {t['size']}, main streams, full sync)",
        "",
        f"Each contender run {t.get('repeats', 1)} times; the run of median time is shown.",
        "",
        table(
            ["contender", "records", "seconds", "records/s", "peak RSS MB"],
            [
                [
                    f"ours: {name}",
                    row["records"],
                    row["seconds"],
                    row["records_per_s"],
                    row["peak_rss_mb"],
                ]
                for name, row in t["ours"].items()
            ]
            + [
                [
                    "singer-io tap-pipedrive 2.1.0",
                    t["peer"]["records"],
                    t["peer"]["seconds"],
                    t["peer"]["records_per_s"],
                    t["peer"]["peak_rss_mb"],
                ]
            ],
        ),
        "",
        "Records per stream, ours: "
        + ", ".join(f"{k} {v}" for k, v in t["ours"]["default"]["per_stream"].items())
        + ". The peer's: "
        + ", ".join(f"{k} {v}" for k, v in t["peer"]["per_stream"].items())
        + " (not files: its schema wants an integer mail_message_id, the API gives a string, "
        "and it stops at the first file).",
        "",
        f"## API cost (size {c['size']}, main and reference streams)",
        "",
        "Ours: its default selection. The peer: all its streams but dealflow and deal_products "
        "(one request per deal); it has no leads stream and reads 100-record pages. Discovery "
        "is not counted for either. The peer's second run emits only full-table records: it drops "
        "records whose time equals its bookmark (it compares '...:05.000000Z' with '...:05Z' "
        "as strings), so a record changed on the bookmark's second is missed; ours re-reads "
        "that second and emits those records again.",
        "",
        table(
            ["run", "records", "requests", "tokens"],
            [
                [
                    "ours: full sync",
                    c["ours"]["full"]["records"],
                    c["ours"]["full"]["requests"],
                    c["ours"]["full"]["tokens"],
                ],
                [
                    "lower bound for the same records",
                    "",
                    c["ours"]["bound_full"]["requests"],
                    c["ours"]["bound_full"]["tokens"],
                ],
                [
                    "ours: no-change incremental",
                    c["ours"]["no_change"]["records"],
                    c["ours"]["no_change"]["requests"],
                    c["ours"]["no_change"]["tokens"],
                ],
                [
                    "bound: one request per stream list",
                    "",
                    c["ours"]["bound_no_change"]["requests"],
                    "",
                ],
                [
                    "peer: full sync",
                    c["peer"]["full"]["records"],
                    c["peer"]["full"]["requests"],
                    c["peer"]["full"]["tokens"],
                ],
                [
                    "peer: second run from its state",
                    c["peer"]["no_change"]["records"],
                    c["peer"]["no_change"]["requests"],
                    c["peer"]["no_change"]["tokens"],
                ],
            ],
        ),
        "",
        f"## Under the {rl['plan']} plan's rate limit ({rl['limit_per_2s']} requests per 2 s) "
        f"with added latency ({rl['records']:,} records, main streams)",
        "",
        "As shipped (`time_windows` default: large lists read in time windows at once) and "
        "each list as one chain of pages (`1`). The bound is "
        "what the limit lets through: the last request may go 2 s x (requests / limit - 1) "
        "after the first. No client is done before that request's answer is back, so the "
        "bound plus one latency is shown beside it. One request at a time would also pay the "
        "latency once per request (the next column). The goal is every row as shipped: "
        "the median of its runs (every run's ratio beside it; 429s and the most requests in "
        "any 2 s are of all its runs).",
        "",
        table(
            [
                "latency ms",
                "time_windows",
                "requests",
                "wall s",
                "bound s",
                "ratio",
                "every run's ratio",
                "bound + latency s",
                "ratio to it",
                "one request at a time s",
                "sandbox answer time s",
                "429s",
                "most in any 2 s",
            ],
            [
                [
                    f"{row['latency_s'] * 1000:.0f}",
                    row["time_windows"],
                    row["requests"],
                    row["seconds"],
                    row["bound_seconds"],
                    row["ratio"],
                    ", ".join(map(str, row.get("runs_ratio") or [row["ratio"]])),
                    row.get("bound_answered_seconds"),
                    row.get("ratio_answered"),
                    row["one_at_a_time_seconds"],
                    row["answer_seconds"],
                    row["answered_429"],
                    row["max_requests_in_2s"],
                ]
                for row in r["rate_limited"]
            ],
        ),
        "",
        *_wall_split_section(r["rate_limited"]),
        "## Scale (main streams, full sync, the large company's proportions)",
        "",
        table(
            ["records", "seconds", "records/s", "peak RSS MB", "sandbox start s"],
            [
                [
                    s["records"],
                    s["seconds"],
                    s["records_per_s"],
                    s["peak_rss_mb"],
                    s["sandbox_start_s"],
                ]
                for s in r["scale"]
            ],
        ),
        "",
        f"## Target ({tg['ours']['messages']:,} messages over 200 counterparts)",
        "",
        table(
            ["run", "requests", "tokens", "requests/message", "tokens/message"],
            [
                [
                    row["run"],
                    row["requests"],
                    row["tokens"],
                    row["requests_per_message"],
                    row["tokens_per_message"],
                ]
                for row in (tg["ours"], tg["naive"])
            ],
        ),
        "",
        f"A rerun of the same input: {tg['ours']['rerun']['requests']} requests, "
        f"{tg['ours']['rerun']['tokens']} tokens, objects created: "
        f"{tg['ours']['rerun']['created'] or 'none'}.",
        "",
        *history_section(r.get("history")),
        *reconciliation_section(r.get("reconciliation")),
        *pipeline_section(r.get("pipeline")),
    ]
    return "\n".join(parts)


def plot(r: dict[str, Any], path: Path) -> None:
    t, c = r["throughput"], r["api_cost"]
    fig, axes = plt.subplots(3, 2, figsize=(12, 12))
    names = ["ours\n" + n.replace("+", "\n+") for n in t["ours"]] + ["singer-io\n2.1.0"]
    rows = [*t["ours"].values(), t["peer"]]
    axes[0][0].bar(names, [row["records_per_s"] for row in rows], color="tab:blue")
    axes[0][0].set_title("records/s, full sync at zero latency")
    axes[0][1].bar(names, [row["peak_rss_mb"] for row in rows], color="tab:orange")
    axes[0][1].set_title("peak RSS of the tap, MB")
    for ax in axes[0]:
        ax.tick_params(axis="x", labelsize=8)
    labels = ["ours full", "bound full", "peer full", "ours no-change", "peer 2nd run"]
    values = [
        c["ours"]["full"]["tokens"],
        c["ours"]["bound_full"]["tokens"],
        c["peer"]["full"]["tokens"],
        c["ours"]["no_change"]["tokens"],
        c["peer"]["no_change"]["tokens"],
    ]
    axes[1][0].bar(labels, values, color="tab:green")
    axes[1][0].set_title("API tokens (sandbox counters)")
    axes[1][0].tick_params(axis="x", labelsize=8)
    scale = r["scale"]
    xs = [s["records"] for s in scale]
    axes[1][1].plot(xs, [s["seconds"] for s in scale], "o-", label="seconds")
    axes[1][1].set_xscale("log")
    axes[1][1].set_yscale("log")
    axes[1][1].set_xlabel("records")
    ax2 = axes[1][1].twinx()
    ax2.plot(xs, [s["peak_rss_mb"] for s in scale], "s--", color="tab:red", label="peak RSS MB")
    ax2.set_ylim(0, max(s["peak_rss_mb"] for s in scale) * 1.5)
    axes[1][1].set_title("scale: time (log) and peak RSS (MB, dashed)")
    _plot_rate_limited(axes[2][0], r.get("rate_limited") or [])
    _plot_pipeline(axes[2][1], r.get("pipeline"))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_rate_limited(ax: Any, rows: list[dict[str, Any]]) -> None:
    """Wall time over the bound per latency, the tap as shipped (the goal's rows), the goal's
    1.10 as a line."""
    mine = sorted(goal_rows(rows), key=_latency)
    ax.plot([_latency(row) for row in mine], [row["ratio"] for row in mine], "o-", label="ours")
    ax.axhline(1.10, color="grey", linestyle=":", label="goal: 1.10x")
    ax.set_xlabel("added latency, ms")
    ax.set_title("lite plan: wall time / the bound (0 answered 429)")
    ax.legend(fontsize=8)


def _latency(row: dict[str, Any]) -> float:
    return row["latency_s"] * 1000


def _plot_pipeline(ax: Any, p: dict[str, Any] | None) -> None:
    """End-to-end records/s into PostgreSQL at each zero-latency size: ours through `meltano
    run`, the peer piped into the same loader."""
    sizes = sorted({row["target_records"] for row in p["rows"] if row["plan"] is None}) if p else []
    labels, values, colors = [], [], []
    for n in sizes:
        for contender, name, mode, color in (
            ("ours", "ours", "meltano run", "tab:blue"),
            ("peer", "singer-io", "piped into the loader (no Meltano)", "tab:grey"),
        ):
            labels.append(f"{name}\n{n:,}")
            values.append(_pipeline_rate(p, contender, mode, n) or 0)
            colors.append(color)
    ax.bar(labels, values, color=colors)
    ax.set_title("end to end into PostgreSQL, records/s")
    ax.tick_params(axis="x", labelsize=8)


def write(results: dict[str, Any], out: Path) -> None:
    (out / "RESULTS.md").write_text(markdown(results))
    plot(results, out / "results.png")


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results.json")
    write(json.loads(source.read_text()), source.parent)
