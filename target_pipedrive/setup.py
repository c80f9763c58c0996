"""Start-up checks, before any message: the title templates, the pipeline and stage of new Deals
(looked up by name), and the custom person fields (found by name, the missing ones created). A
wrong setting stops the run here, in one line that lists what exists."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipedrive_client import ConfigError, PipedriveClient

from .dry_run import DryRun
from .once import write_or_find

if TYPE_CHECKING:
    from .writer import WriterSettings

logger = logging.getLogger("target-pipedrive")

# Our custom person fields by purpose (each named by the setting field_<purpose>), and their types.
FIELD_TYPES = {"thread_count": "double", "last_contact": "date", "avg_response_hours": "double"}


@dataclass(frozen=True)
class Setup:
    """Where new Deals go, and the key of each custom person field by its purpose."""

    pipeline_id: Any
    stage_id: Any
    field_codes: dict[str, str]


def set_up(client: PipedriveClient, settings: WriterSettings, dry_run: DryRun | None) -> Setup:
    for setting in ("deal_title", "lead_title"):
        check_template(setting, getattr(settings, setting))
    pipeline_id, stage_id = find_stage(client, settings.pipeline_name, settings.stage_name)
    return Setup(pipeline_id, stage_id, person_fields(client, settings.field_names, dry_run))


def check_template(setting: str, template: str) -> None:
    try:
        template.format(organization="o", person="p", email="e", domain="d")
    except (KeyError, IndexError, ValueError) as error:
        raise ConfigError(
            f"{setting} '{template}' is not a valid template ({error!r}): use "
            "{organization}, {person}, {email} and {domain}."
        ) from None


def find_stage(client: PipedriveClient, wanted: str | None, stage_name: str) -> tuple[Any, Any]:
    """The pipeline and stage ids of new Deals: the stage named `stage_name` in the pipeline
    named `wanted`, or in the first pipeline that has one."""
    pipelines = list(client.list_pipelines())
    stages = list(client.list_stages())
    by_pipeline = {p["id"]: [s for s in stages if s["pipeline_id"] == p["id"]] for p in pipelines}
    if wanted and not any(p["name"] == wanted for p in pipelines):
        raise ConfigError(
            f"pipeline '{wanted}' not found (setting pipeline_name). Pipelines: "
            f"{', '.join(repr(p['name']) for p in pipelines) or 'none'}."
        )
    for pipeline in pipelines:
        if wanted and pipeline["name"] != wanted:
            continue
        stage = next((s for s in by_pipeline[pipeline["id"]] if s["name"] == stage_name), None)
        if stage:
            return pipeline["id"], stage["id"]
    existing = "; ".join(
        f"{p['name']}: {', '.join(s['name'] for s in by_pipeline[p['id']])}"
        for p in pipelines
        if not wanted or p["name"] == wanted
    )
    where = f"pipeline '{wanted}'" if wanted else "any pipeline"
    raise ConfigError(
        f"stage '{stage_name}' not found in {where} (setting stage_name). "
        f"Stages by pipeline: {existing or 'none'}."
    )


def person_fields(
    client: PipedriveClient, names: dict[str, str], dry_run: DryRun | None
) -> dict[str, str]:
    """The key of each custom person field (purpose -> name), the missing ones created."""
    fields = {f["field_name"]: f["field_code"] for f in client.list_person_fields()}
    codes: dict[str, str] = {}
    for purpose, name in names.items():
        if name in fields:
            codes[purpose] = fields[name]
        elif dry_run:
            codes[purpose] = dry_run.intend(
                "create_person_field", name=name, field_type=FIELD_TYPES[purpose]
            )
        else:
            codes[purpose] = _create_person_field(client, name, FIELD_TYPES[purpose])
            logger.info("Created the custom person field '%s'.", name)
    return codes


def _create_person_field(client: PipedriveClient, name: str, field_type: str) -> str:
    def find() -> str | None:
        named = (f for f in client.list_person_fields() if f["field_name"] == name)
        return next((f["field_code"] for f in named), None)

    return write_or_find(
        lambda: client.create_person_field(name, field_type)["field_code"],
        find,
        "person field",
    )
