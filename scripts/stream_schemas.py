"""The JSON schemas of the streams whose records the tap takes as the official description shapes
them (tap_pipedrive/schemas/<stream>.json), made from its response schema and its examples.

    .venv/bin/python scripts/stream_schemas.py SPEC_DIR [STREAM ...]

Each top-level property of the list's record becomes a column: its described type, nullable
(the API leaves fields out or null), `id` required; objects and arrays are kept whole (JSON
columns), their insides being the API's to change; times (`format: date-time`, or the API's
`*_time` stamps, which v1 writes as 'YYYY-MM-DD HH:MM:SS') get `format: date-time`, so that the
tap writes them as RFC 3339 UTC like every other stream. A field known only from an example takes
its example's type. Deterministic; the other stream schemas are written by hand.

Needs PyYAML.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from documented_fields import CUSTOM_KEY, Spec, example_items, value_type

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tap_pipedrive" / "schemas"

# Stream -> the GET list its records come from.
STREAMS: dict[str, tuple[str, str]] = {
    "roles": ("v1", "/roles"),
    "permission_sets": ("v1", "/permissionSets"),
    "lead_sources": ("v1", "/leadSources"),
    "note_fields": ("v1", "/noteFields"),
    "lead_fields": ("v1", "/leadFields"),
    "project_fields": ("v2", "/projectFields"),
    "project_boards": ("v2", "/boards"),
    "project_phases": ("v2", "/phases"),
    "goals": ("v1", "/goals/find"),
    "call_logs": ("v1", "/callLogs"),
    "projects": ("v2", "/projects"),
    "tasks": ("v2", "/tasks"),
    "deal_participants": ("v1", "/deals/{id}/participants"),
    "deal_installments": ("v2", "/deals/installments"),
    "product_variations": ("v2", "/products/{id}/variations"),
    "organization_relationships": ("v1", "/organizationRelationships"),
}
# Stamps the API writes without a declared format.
TIME_NAMES = ("add_time", "update_time", "archive_time", "delete_time", "marked_as_done_time")


def records(spec: Spec, path: str) -> tuple[dict, list[dict]]:
    """The list's record schema (its `data` items, or `data.goals` for goals) and examples."""
    media = spec.list_media(path)
    data = spec.merged(spec.merged(media["schema"])["properties"]["data"])
    if data.get("type") == "array" or "items" in data:
        return spec.merged(data["items"]), example_items(media)
    inner = next(v for v in (data.get("properties") or {}).values() if "items" in spec.merged(v))
    body = media.get("example") or {}
    examples = next((v for v in (body.get("data") or {}).values() if isinstance(v, list)), [])
    return spec.merged(spec.merged(inner)["items"]), [e for e in examples if isinstance(e, dict)]


def column(name: str, node: dict) -> dict[str, Any]:
    kind = node.get("type") or ("object" if "properties" in node else None)
    out: dict[str, Any] = {}
    if node.get("description"):
        out["description"] = " ".join(str(node["description"]).split())
    if kind == "array":
        out["type"] = ["null", "array"]
        out["items"] = {}
    elif kind in ("object", None):
        out["type"] = ["null", "object"] if kind else ["null", "string", "number", "boolean"]
    else:
        out["type"] = ["null", kind]
    if kind == "string" and (node.get("format") == "date-time" or name in TIME_NAMES):
        out["format"] = "date-time"
    if name == "id":
        out["type"] = [t for t in out["type"] if t != "null"]
    return out


def schema(spec: Spec, path: str) -> dict[str, Any]:
    item, examples = records(spec, path)
    properties = {
        name: column(name, spec.merged(node))
        for name, node in (item.get("properties") or {}).items()
    }
    extra = sorted({k for e in examples for k in e if k not in properties})
    for name in extra:
        if not CUSTOM_KEY.match(name):
            kind = value_type([e[name] for e in examples if name in e])
            properties[name] = column(name, {"type": kind} if kind else {})
    return {"type": "object", "properties": dict(sorted(properties.items()))}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    spec_dir, wanted = Path(argv[0]), argv[1:] or list(STREAMS)
    specs = {g: Spec(yaml.safe_load((spec_dir / f"{g}.yaml").read_text())) for g in ("v1", "v2")}
    for stream in wanted:
        generation, path = STREAMS[stream]
        target = OUT / f"{stream}.json"
        target.write_text(json.dumps(schema(specs[generation], path), indent=1) + "\n")
        print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
