"""What the official OpenAPI description documents for the records of each list the tap reads and
the sandbox serves: the properties of each response schema and of each response example.

The description's examples carry fields that its response schemas leave out (deals
`creator_user_id`, files `log_id`, ...); the API sends them, so they count as documented too.

    .venv/bin/python scripts/documented_fields.py SPEC_DIR

SPEC_DIR holds v1.yaml and v2.yaml (the public repository juhokoskela/pipedrive-go,
openapi/upstream/; /work/shared/tools/get_specs.sh extracts them). Writes, deterministically:

- tests/tap/documented_fields.json: per tap stream, the documented property names (the test
  suite checks the stream schemas and the sandbox against it without needing the spec);
- pipedrive_sandbox/response_shapes.json: per served list, the type and nullability of each
  documented field (what the sandbox's renderers conform to). A field known only from an
  example takes the type of its example values and is nullable: the schema promises nothing.

Needs PyYAML.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
FIELDS_OUT = ROOT / "tests" / "tap" / "documented_fields.json"
SHAPES_OUT = ROOT / "pipedrive_sandbox" / "response_shapes.json"

# Tap stream -> the GET lists its records come from (archived lists share the main schema).
STREAMS: dict[str, list[tuple[str, str]]] = {
    "deals": [("v2", "/deals"), ("v2", "/deals/archived")],
    "persons": [("v2", "/persons")],
    "organizations": [("v2", "/organizations")],
    "activities": [("v2", "/activities")],
    "products": [("v2", "/products")],
    "leads": [("v1", "/leads"), ("v1", "/leads/archived")],
    "notes": [("v1", "/notes")],
    "files": [("v1", "/files")],
    "pipelines": [("v2", "/pipelines")],
    "stages": [("v2", "/stages")],
    "users": [("v1", "/users")],
    "activity_types": [("v1", "/activityTypes")],
    "lead_labels": [("v1", "/leadLabels")],
    "currencies": [("v1", "/currencies")],
    "filters": [("v1", "/filters")],
    "deal_fields": [("v2", "/dealFields")],
    "person_fields": [("v2", "/personFields")],
    "organization_fields": [("v2", "/organizationFields")],
    "product_fields": [("v2", "/productFields")],
    "activity_fields": [("v2", "/activityFields")],
    "mail_threads": [("v1", "/mailbox/mailThreads")],
    "mail_messages": [("v1", "/mailbox/mailThreads/{id}/mailMessages")],
    "deal_products": [("v2", "/deals/products")],
    "deal_changes": [("v1", "/deals/{id}/changelog")],
    "person_changes": [("v1", "/persons/{id}/changelog")],
    "organization_changes": [("v1", "/organizations/{id}/changelog")],
    "roles": [("v1", "/roles")],
    "permission_sets": [("v1", "/permissionSets")],
    "lead_sources": [("v1", "/leadSources")],
    "note_fields": [("v1", "/noteFields")],
    "lead_fields": [("v1", "/leadFields")],
    "project_fields": [("v2", "/projectFields")],
    "project_boards": [("v2", "/boards")],
    "project_phases": [("v2", "/phases")],
    "goals": [("v1", "/goals/find")],
    "call_logs": [("v1", "/callLogs")],
    "projects": [("v2", "/projects"), ("v2", "/projects/archived")],
    "tasks": [("v2", "/tasks")],
    "deal_participants": [("v1", "/deals/{id}/participants")],
    "deal_installments": [("v2", "/deals/installments")],
    "product_variations": [("v2", "/products/{id}/variations")],
    "organization_relationships": [("v1", "/organizationRelationships")],
}

# Sandbox shape name -> the GET list it describes.
SHAPES: dict[str, tuple[str, str]] = {
    "deals": ("v2", "/deals"),
    "deals_archived": ("v2", "/deals/archived"),
    "persons": ("v2", "/persons"),
    "organizations": ("v2", "/organizations"),
    "activities": ("v2", "/activities"),
    "products": ("v2", "/products"),
    "pipelines": ("v2", "/pipelines"),
    "stages": ("v2", "/stages"),
    "deal_fields": ("v2", "/dealFields"),
    "person_fields": ("v2", "/personFields"),
    "organization_fields": ("v2", "/organizationFields"),
    "product_fields": ("v2", "/productFields"),
    "activity_fields": ("v2", "/activityFields"),
    "persons_search": ("v2", "/persons/search"),
    "organizations_search": ("v2", "/organizations/search"),
    "leads": ("v1", "/leads"),
    "leads_archived": ("v1", "/leads/archived"),
    "notes": ("v1", "/notes"),
    "files": ("v1", "/files"),
    "users": ("v1", "/users"),
    "activity_types": ("v1", "/activityTypes"),
    "lead_labels": ("v1", "/leadLabels"),
    "currencies": ("v1", "/currencies"),
    "filters": ("v1", "/filters"),
    "v1_deal_fields": ("v1", "/dealFields"),
    "v1_person_fields": ("v1", "/personFields"),
    "v1_organization_fields": ("v1", "/organizationFields"),
    "v1_product_fields": ("v1", "/productFields"),
    "v1_activity_fields": ("v1", "/activityFields"),
    "v1_note_fields": ("v1", "/noteFields"),
    "mail_threads": ("v1", "/mailbox/mailThreads"),
    "mail_messages": ("v1", "/mailbox/mailThreads/{id}/mailMessages"),
    "deal_products": ("v2", "/deals/products"),
    "roles": ("v1", "/roles"),
    "permission_sets": ("v1", "/permissionSets"),
    "lead_sources": ("v1", "/leadSources"),
    "lead_fields": ("v1", "/leadFields"),
    "project_fields": ("v2", "/projectFields"),
    "project_boards": ("v2", "/boards"),
    "project_phases": ("v2", "/phases"),
    "goals": ("v1", "/goals/find"),
    "call_logs": ("v1", "/callLogs"),
    "projects": ("v2", "/projects"),
    "projects_archived": ("v2", "/projects/archived"),
    "tasks": ("v2", "/tasks"),
    "deal_participants": ("v1", "/deals/{id}/participants"),
    "deal_installments": ("v2", "/deals/installments"),
    "product_variations": ("v2", "/products/{id}/variations"),
    "organization_relationships": ("v1", "/organizationRelationships"),
}

# Lists whose records sit one level down in an object `data` (`data.goals`), not in `data`.
RECORDS_UNDER: dict[str, str] = {"/goals/find": "goals"}

# A custom field's key: added per account at run time, never a documented column.
CUSTOM_KEY = re.compile(r"[0-9a-f]{40}")
SHAPE_DEPTH = 2  # nodes deeper than this are leaves: the sandbox conforms the top of a record
JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


class Spec:
    def __init__(self, document: dict) -> None:
        self.document = document

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def merged(self, node: Any) -> dict:
        """A schema with its `allOf` parts folded in (properties united, first word wins)."""
        node = self.resolve(node)
        if not isinstance(node, dict):
            return {}
        out = {k: v for k, v in node.items() if k != "allOf"}
        for part in node.get("allOf", []):
            sub = self.merged(part)
            properties = {**(out.get("properties") or {}), **(sub.get("properties") or {})}
            for key, value in sub.items():
                if key != "properties":
                    out.setdefault(key, value)
            if properties:
                out["properties"] = properties
        return out

    def list_media(self, path: str) -> dict:
        response = self.resolve(self.document["paths"][path]["get"]["responses"]["200"])
        return response["content"]["application/json"]

    def shape(self, node: Any, depth: int = 0) -> dict:
        node = self.merged(node)
        kind = node.get("type") or ("object" if "properties" in node else None)
        out: dict[str, Any] = {"t": kind, "n": bool(node.get("nullable"))}
        if depth <= SHAPE_DEPTH:
            if "properties" in node:
                out["p"] = {k: self.shape(v, depth + 1) for k, v in node["properties"].items()}
            if "items" in node:
                out["i"] = self.shape(node["items"], depth + 1)
        return out


def example_items(media: dict, under: str | None = None) -> list[dict]:
    """The records of a list's response examples (`data` as a list, or `data[under]`)."""
    bodies = [media.get("example")]
    bodies += [example.get("value") for example in (media.get("examples") or {}).values()]
    items: list[dict] = []
    for body in bodies:
        data = body.get("data") if isinstance(body, dict) else None
        if under and isinstance(data, dict):
            data = data.get(under)
        items += [item for item in data or [] if isinstance(item, dict)]
    return items


def value_type(values: list[Any]) -> str | None:
    for value in values:
        if isinstance(value, list):
            return "array"
        if isinstance(value, dict):
            return "object"
        for python, name in JSON_TYPES:
            if isinstance(value, python):
                return name
    return None


def item_node(shape: dict, under: str | None = None) -> dict:
    data = shape["p"]["data"]
    if under:
        data = data["p"][under]
    return data.get("i", data) if data.get("t") == "array" else data


def endpoint_shape(spec: Spec, path: str) -> dict:
    """The response's shape, with the fields known only from the examples added to its item."""
    media = spec.list_media(path)
    shape = spec.shape(media["schema"])
    under = RECORDS_UNDER.get(path)
    if under is None and shape["p"]["data"].get("t") != "array":
        return shape  # searches: records sit deeper, under data.items[].item
    if under:  # the records one level down get the depth of records directly in `data`
        data = spec.merged(spec.merged(media["schema"])["properties"]["data"])
        records = spec.merged(data["properties"][under])
        shape["p"]["data"]["p"][under]["i"] = spec.shape(records["items"], depth=2)
    known = item_node(shape, under).setdefault("p", {})
    examples = example_items(media, under)
    extra = sorted({k for e in examples for k in e if k not in known and not CUSTOM_KEY.match(k)})
    for key in extra:
        known[key] = {"t": value_type([e[key] for e in examples if key in e]), "n": True}
    return shape


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    spec_dir = Path(argv[0])
    specs = {g: Spec(yaml.safe_load((spec_dir / f"{g}.yaml").read_text())) for g in ("v1", "v2")}
    shapes = {name: endpoint_shape(specs[g], path) for name, (g, path) in SHAPES.items()}
    fields: dict[str, list[str]] = {}
    for stream, endpoints in STREAMS.items():
        names: set[str] = set()
        for g, path in endpoints:
            names |= set(item_node(endpoint_shape(specs[g], path), RECORDS_UNDER.get(path))["p"])
        fields[stream] = sorted(names)
    commit = spec_dir / "COMMIT"
    described = {
        "description": "Record properties documented by the official Pipedrive OpenAPI "
        "description (response schemas and examples); made by scripts/documented_fields.py.",
        "spec_commit": commit.read_text().split()[0] if commit.exists() else None,
        "streams": fields,
    }
    FIELDS_OUT.write_text(json.dumps(described, indent=1) + "\n")
    SHAPES_OUT.write_text(json.dumps(shapes))
    print(f"wrote {FIELDS_OUT.relative_to(ROOT)} and {SHAPES_OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
