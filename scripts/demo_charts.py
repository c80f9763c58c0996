"""The demo's pictures: the pipeline funnel and the time in stage, drawn with matplotlib from the
marts dbt-duckdb built in the demo's DuckDB warehouse (transform/, docs/transform.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

MARTS = "pipedrive_analytics"
BAR = "#2f6f9f"
LIGHT = "#9cc3e0"


def funnel_rows(warehouse: Path) -> list[dict[str, Any]]:
    """pipeline_funnel, in each pipeline's order."""
    with duckdb.connect(str(warehouse), read_only=True) as db:
        cursor = db.execute(
            "SELECT pipeline_id, pipeline_name, stage_id, stage_position, stage_name, "
            "deals_reached, conversion_to_next, median_days_in_stage, stays_ended, deals_open, "
            f"deals_won, deals_lost FROM {MARTS}.pipeline_funnel "
            "ORDER BY pipeline_id, stage_position"
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def stays(warehouse: Path) -> dict[tuple[int, int], list[float]]:
    """Days in stage of the stays that ended, per (pipeline_id, stage_id)."""
    with duckdb.connect(str(warehouse), read_only=True) as db:
        rows = db.execute(
            f"SELECT pipeline_id, stage_id, days_in_stage FROM {MARTS}.deal_stage_history "
            "WHERE left_at IS NOT NULL"
        ).fetchall()
    found: dict[tuple[int, int], list[float]] = {}
    for pipeline, stage, days in rows:
        found.setdefault((pipeline, stage), []).append(days)
    return found


def by_pipeline(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["pipeline_id"], []).append(row)
    return list(grouped.values())


def draw(warehouse: Path, out: Path, subtitle: str) -> tuple[list[Path], list[dict[str, Any]]]:
    """funnel.png and time_in_stage.png in `out`; returns their paths and the funnel drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = funnel_rows(warehouse)
    pipelines = by_pipeline(rows)
    widest = max(row["deals_reached"] for row in rows) or 1

    deepest = max(len(steps) for steps in pipelines)
    fig, axes = plt.subplots(1, len(pipelines), figsize=(5 * len(pipelines), 4.2), squeeze=False)
    for ax, steps in zip(axes[0], pipelines, strict=True):
        y = [deepest - 1 - i for i in range(len(steps))]  # the first stage on top, all alike
        values = [step["deals_reached"] for step in steps]
        ax.barh(y, values, left=[(widest - v) / 2 for v in values], color=BAR, height=0.62)
        for pos, step in zip(y, steps, strict=True):
            ax.text(
                widest / 2,
                pos,
                str(step["deals_reached"]),
                ha="center",
                va="center",
                color="white",
                fontweight="bold",
            )
            if step["conversion_to_next"] is not None:
                ax.text(
                    widest / 2,
                    pos - 0.5,
                    f"↓ {step['conversion_to_next']:.0%}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="#444444",
                )
            closed = f"won {step['deals_won']}, lost {step['deals_lost']}"
            ax.text(widest * 1.02, pos, closed, va="center", fontsize=7, color="#666666")
        ax.set_yticks(y, [step["stage_name"] for step in steps])
        ax.set_xlim(0, widest * 1.35)
        ax.set_ylim(-0.6, deepest - 0.4)
        ax.set_xticks([])
        ax.set_title(steps[0]["pipeline_name"])
        for side in ("top", "right", "bottom"):
            ax.spines[side].set_visible(False)
    fig.suptitle(
        "Deals that reached each stage, the share that went on to the next (↓), and the deals "
        f"won and lost in it\n{subtitle}",
        fontsize=11,
    )
    fig.tight_layout()
    funnel_png = out / "funnel.png"
    fig.savefig(funnel_png, dpi=110)
    plt.close(fig)

    ended = stays(warehouse)
    fig, axes = plt.subplots(1, len(pipelines), figsize=(5 * len(pipelines), 4.2), squeeze=False)
    for ax, steps in zip(axes[0], pipelines, strict=True):
        data, labels = [], []
        for step in steps:
            data.append(ended.get((step["pipeline_id"], step["stage_id"]), []))
            labels.append(f"{step['stage_name']}\n({step['stays_ended']} stays)")
        positions = [deepest - 1 - i for i in range(len(steps))]
        ax.boxplot(
            data,
            positions=positions,
            vert=False,
            widths=0.55,
            showfliers=False,
            patch_artist=True,
            boxprops={"facecolor": LIGHT},
            medianprops={"color": BAR, "linewidth": 2},
        )
        for pos, step in zip(positions, steps, strict=True):
            if step["median_days_in_stage"] is not None:
                ax.text(
                    step["median_days_in_stage"],
                    pos + 0.36,
                    f"{step['median_days_in_stage']:.0f} d",
                    ha="center",
                    fontsize=8,
                )
        ax.set_yticks(positions, labels, fontsize=8)
        ax.set_xlabel("days in the stage")
        ax.set_title(steps[0]["pipeline_name"])
        ax.set_xlim(left=0)
        ax.set_ylim(-0.6, deepest - 0.4)
    fig.suptitle(f"Time in stage (stays that ended; median labelled)\n{subtitle}", fontsize=11)
    fig.tight_layout()
    time_png = out / "time_in_stage.png"
    fig.savefig(time_png, dpi=110)
    plt.close(fig)
    return [funnel_png, time_png], rows


def funnel_table(rows: list[dict[str, Any]]) -> str:
    """The funnel as the demo prints it."""
    lines = [
        f"  {'pipeline':<13} {'stage':<16} {'reached':>7} {'to next':>8} "
        f"{'median days':>11} {'open':>5} {'won':>4} {'lost':>4}"
    ]
    for row in rows:
        conversion = row["conversion_to_next"]
        median = row["median_days_in_stage"]
        lines.append(
            f"  {row['pipeline_name']:<13} {row['stage_name']:<16} {row['deals_reached']:>7} "
            f"{'' if conversion is None else f'{conversion:.0%}':>8} "
            f"{'' if median is None else f'{median:.1f}':>11} "
            f"{row['deals_open']:>5} {row['deals_won']:>4} {row['deals_lost']:>4}"
        )
    return "\n".join(lines)
