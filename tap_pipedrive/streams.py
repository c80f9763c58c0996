"""The streams, declared: where each lives, how it is keyed, how it is read incrementally.
What each costs per run is in docs/tap.md ("Streams and their cost per run")."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from . import history, readers
from .base_streams import IncrementalStream, PipedriveStream, ReferenceStream

# -- incremental: v2, updated_since + sort_by=update_time ---------------------------------------


class DealsStream(IncrementalStream):
    """Active and archived deals (archived ones live in their own list), each with its own
    bookmark; deleted deals within the API's 30 days come with status=deleted.

    Parent of `deal_products`, `deal_changes` and `deal_stage_changes`: they read for the deals
    read in this run, in batches of 100, never one request per deal on every run."""

    name = "deals"
    path = "/api/v2/deals"
    custom_fields_path = "/api/v2/dealFields"
    deleted_flag = "is_deleted"
    has_updated_until = True

    BATCH_FIELDS = (*IncrementalStream.BATCH_FIELDS, "stage_id", "pipeline_id")

    # The partition key is a field the records carry, so the SDK adds no column for it.
    partitions: ClassVar[list[dict]] = [{"is_archived": False}, {"is_archived": True}]

    def list_path(self, context: dict | None) -> str:
        return self.path + ("/archived" if (context or {}).get("is_archived") else "")

    def request_params(self, context: dict | None) -> dict[str, Any]:
        params = super().request_params(context)
        if self.config.get("include_deleted", True):
            params["status"] = "open,won,lost,deleted"
        return params

    def source(self, context: dict | None) -> Iterator[readers.Batch]:
        if "status" not in self.request_params(context):
            return self.v2(context)
        return self.strict_fallback(
            context, self.v2, self.deleted_beside_the_rest, "status=open,won,lost,deleted"
        )

    def deleted_beside_the_rest(self, context: dict | None) -> Iterator[readers.Batch]:
        """The strict form, one status value a request: the list without `status` (every deal
        not deleted) and the list of deleted deals, merged by update_time so that the stream
        stays sorted."""
        listings = [self.v2(context, status=None), self.v2(context, status="deleted")]
        return readers.merged_batches(listings, self.time_of, self.page_size)


class PersonsStream(IncrementalStream):
    name = "persons"
    path = "/api/v2/persons"
    custom_fields_path = "/api/v2/personFields"
    deleted_flag = "is_deleted"
    has_updated_until = True


class OrganizationsStream(IncrementalStream):
    name = "organizations"
    path = "/api/v2/organizations"
    custom_fields_path = "/api/v2/organizationFields"
    deleted_flag = "is_deleted"
    has_updated_until = True


class ActivitiesStream(IncrementalStream):
    name = "activities"
    path = "/api/v2/activities"
    deleted_flag = "is_deleted"
    has_updated_until = True


class ProductsStream(IncrementalStream):
    name = "products"
    path = "/api/v2/products"
    custom_fields_path = "/api/v2/productFields"
    deleted_flag = "is_deleted"


# -- incremental: v1 ----------------------------------------------------------------------------


class NotesStream(IncrementalStream):
    name = "notes"
    path = "/api/v1/notes"
    generation = "v1"
    deleted_flag = "!active_flag"


class LeadsStream(IncrementalStream):
    """Active leads through updated_since (oldest first); archived leads, whose list has no
    updated_since, newest first down to the bookmark and then emitted oldest first. Two
    partitions, each with its own bookmark, both sorted."""

    name = "leads"
    path = "/api/v1/leads"
    generation = "v1"
    millis = True
    custom_fields_path = "/api/v2/dealFields"  # leads inherit the deal fields

    partitions: ClassVar[list[dict]] = [{"is_archived": False}, {"is_archived": True}]

    @staticmethod
    def _archived(context: dict | None) -> bool:
        return bool((context or {}).get("is_archived"))

    def list_path(self, context: dict | None) -> str:
        return self.path + ("/archived" if self._archived(context) else "")

    def source(self, context: dict | None) -> Iterator[readers.Batch]:
        if self._archived(context):
            loose, strict = self.newest_first, self.ascending_since
        else:
            loose = strict = self.keyset  # the strict keyset sends the bare sort
        return self.strict_fallback(context, loose, strict, "sort=update_time ASC|DESC")


class FilesStream(IncrementalStream):
    name = "files"
    path = "/api/v1/files"
    generation = "v1"
    page_size = 100  # the files list allows at most 100
    deleted_flag = "!active_flag"

    def source(self, context: dict | None) -> Iterator[readers.Batch]:
        return self.newest_first(context)  # the list has no updated_since


# -- reference data: read whole ----------------------------------------------------------------


class PipelinesStream(ReferenceStream):
    name = "pipelines"
    path = "/api/v2/pipelines"


class StagesStream(ReferenceStream):
    name = "stages"
    path = "/api/v2/stages"


class UnpagedStream(ReferenceStream):
    """v1 lists that take no paging parameters and answer in one response."""

    generation = "v1"

    def source(self, context: dict | None) -> Iterator[readers.Batch]:
        yield self.client.v1_unpaged(self.list_path(context)).records


class UsersStream(UnpagedStream):
    name = "users"
    path = "/api/v1/users"


class ActivityTypesStream(UnpagedStream):
    name = "activity_types"
    path = "/api/v1/activityTypes"


class LeadLabelsStream(UnpagedStream):
    name = "lead_labels"
    path = "/api/v1/leadLabels"
    millis = True


class CurrenciesStream(UnpagedStream):
    name = "currencies"
    path = "/api/v1/currencies"


class FiltersStream(UnpagedStream):
    name = "filters"
    path = "/api/v1/filters"


# Roles, permission sets and goals need an admin's token or a plan that has them, projects the
# Projects add-on: deselected by default, so that a default run never fails on a 403.


class RolesStream(ReferenceStream):
    name = "roles"
    selected_by_default = False
    path = "/api/v1/roles"
    generation = "v1"


class PermissionSetsStream(UnpagedStream):
    name = "permission_sets"
    selected_by_default = False
    path = "/api/v1/permissionSets"


class LeadSourcesStream(UnpagedStream):
    """The fixed names Pipedrive gives a lead's source: no id, the name is the key."""

    name = "lead_sources"
    selected_by_default = False
    path = "/api/v1/leadSources"
    primary_keys: ClassVar[list[str]] = ["name"]


class NoteFieldsStream(UnpagedStream):
    name = "note_fields"
    selected_by_default = False
    path = "/api/v1/noteFields"


class LeadFieldsStream(ReferenceStream):
    name = "lead_fields"
    selected_by_default = False
    path = "/api/v1/leadFields"
    generation = "v1"


class UnpagedV2Stream(ReferenceStream):
    """v2 lists that take no paging parameters and answer in one response."""

    def source(self, context: dict | None) -> Iterator[readers.Batch]:
        yield self.client.get(self.list_path(context), self.request_params(context)) or []


class ProjectBoardsStream(UnpagedV2Stream):
    name = "project_boards"
    app = "projects"
    selected_by_default = False
    path = "/api/v2/boards"

    def get_child_context(self, record: dict, context: dict | None) -> dict:
        return {"board_id": record["id"]}


class ProjectPhasesStream(UnpagedV2Stream):
    """Phases of each project board (the list needs a board_id): one request (10 tokens) per
    board."""

    name = "project_phases"
    app = "projects"
    selected_by_default = False
    path = "/api/v2/phases"
    parent_stream_type = ProjectBoardsStream
    state_partitioning_keys: ClassVar[list[str]] = []  # no per-board state

    def request_params(self, context: dict | None) -> dict[str, Any]:
        return {"board_id": (context or {})["board_id"]}


class GoalsStream(UnpagedStream):
    """Every goal. `goals/find` answers only the token user's goals unless an assignee type is
    asked for, and whether it filters on is_active by default the description leaves open: so
    each assignee type is asked for, active and inactive (6 requests, 20 tokens each), and the
    answers (under data.goals) are united by id."""

    name = "goals"
    selected_by_default = False
    path = "/api/v1/goals/find"
    ASSIGNEE_TYPES = ("person", "company", "team")

    def source(self, context: dict | None) -> Iterator[readers.Batch]:
        seen: set[str] = set()
        for kind in self.ASSIGNEE_TYPES:
            for active in ("true", "false"):
                query = {"assignee.type": kind, "is_active": active}
                goals = (self.client.get(self.path, query) or {}).get("goals") or []
                yield [goal for goal in goals if goal["id"] not in seen]
                seen.update(goal["id"] for goal in goals)


# -- full table: lists with neither a time filter nor a sort ------------------------------------


class CallLogsStream(ReferenceStream):
    """Call logs of the token's user (the API lists no one else's): the list has no time filter
    and no sort, so it is read whole every run, 50 a page (its maximum)."""

    name = "call_logs"
    path = "/api/v1/callLogs"
    generation = "v1"
    page_size = 50
    selected_by_default = False


class ProjectsStream(ReferenceStream):
    """Projects and archived projects (two lists; an archived one has its archive_time): no
    time filter and no sort, so both are read whole every run."""

    name = "projects"
    path = "/api/v2/projects"
    custom_fields_path = "/api/v2/projectFields"
    app = "projects"
    selected_by_default = False
    partitions: ClassVar[list[dict]] = [{"is_archived": False}, {"is_archived": True}]

    def list_path(self, context: dict | None) -> str:
        return self.path + ("/archived" if (context or {}).get("is_archived") else "")

    def _build_schema(self) -> dict[str, Any]:
        schema = super()._build_schema()
        # The partition key, which the SDK adds to each record.
        schema["properties"]["is_archived"] = {"type": ["null", "boolean"]}
        return schema


class TasksStream(ReferenceStream):
    """Project tasks: no time filter and no sort, read whole every run."""

    name = "tasks"
    app = "projects"
    path = "/api/v2/tasks"
    selected_by_default = False


class FieldDefinitionsStream(ReferenceStream):
    """v2 field definitions (cheaper than v1, and they carry field_code). Read once per run:
    the same list also names the custom field columns."""

    primary_keys: ClassVar[list[str]] = ["field_code"]
    read_ahead = False  # the tap's one read of the definitions

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        return self._pipedrive_tap.field_definitions(self.path)


class DealFieldsStream(FieldDefinitionsStream):
    name = "deal_fields"
    path = "/api/v2/dealFields"


class PersonFieldsStream(FieldDefinitionsStream):
    name = "person_fields"
    path = "/api/v2/personFields"


class OrganizationFieldsStream(FieldDefinitionsStream):
    name = "organization_fields"
    path = "/api/v2/organizationFields"


class ProductFieldsStream(FieldDefinitionsStream):
    name = "product_fields"
    path = "/api/v2/productFields"


class ActivityFieldsStream(FieldDefinitionsStream):
    name = "activity_fields"
    path = "/api/v2/activityFields"


class ProjectFieldsStream(FieldDefinitionsStream):
    name = "project_fields"
    app = "projects"
    selected_by_default = False
    path = "/api/v2/projectFields"


# -- expensive, deselected by default ------------------------------------------------------------


class MailThreadsStream(PipedriveStream):
    """Mail threads per folder (50 per page, 20 tokens a page). The list has no time filter
    and no sort, so every run lists each folder whole, but only threads whose update_time (a
    new message moves it) is on or after the folder's bookmark, minus the lookback window, are
    emitted, and only their messages are read. Unsorted: the bookmark moves at the end of each
    folder."""

    name = "mail_threads"
    path = "/api/v1/mailbox/mailThreads"
    generation = "v1"
    page_size = 50
    selected_by_default = False
    replication_key = "update_time"
    is_sorted = False
    partitions: ClassVar[list[dict]] = [
        {"folder": f} for f in ("inbox", "drafts", "sent", "archive")
    ]

    def request_params(self, context: dict | None) -> dict[str, Any]:
        return {"folder": (context or {})["folder"]}

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        since = self.normal(self.since(context)) or ""
        self.logger.info("Starting incremental sync of %s from %s.", self.describe(context), since)
        for record in super().get_records(context):
            if (self.normal(record.get("update_time")) or "") >= since:
                yield record

    def get_child_context(self, record: dict, context: dict | None) -> dict:
        return {"thread_id": record["id"]}


class MailMessagesStream(UnpagedStream):
    """Messages of each thread: the API has no bulk list, so one request (20 tokens) per
    thread."""

    name = "mail_messages"
    path = "/api/v1/mailbox/mailThreads/{thread_id}/mailMessages"
    parent_stream_type = MailThreadsStream
    selected_by_default = False
    state_partitioning_keys: list[str] = []  # noqa: RUF012 - no per-thread state

    def list_path(self, context: dict | None) -> str:
        return self.path.format(thread_id=(context or {})["thread_id"])


class ChildStream(ReferenceStream):
    """Reads for the batch of records its parent stream read in this run (see
    `IncrementalStream.generate_child_contexts`); no state of its own."""

    selected_by_default = False
    state_partitioning_keys: ClassVar[list[str]] = []  # no per-batch state

    def parent_batch(self, context: dict | None) -> list[dict[str, Any]]:
        parent = self._pipedrive_tap.streams[self.parent_stream_type.name]
        return [parent.batch[key] for key in (context or {}).get("ids") or []]


class PerDealBatchStream(ChildStream):
    """A bulk list by `deal_ids`: one request per batch of (at most 100) live deals read."""

    parent_stream_type = DealsStream

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        live = [deal["id"] for deal in self.parent_batch(context) if not deal.get("is_deleted")]
        if not live:
            return
        params = {"deal_ids": ",".join(map(str, live))}
        for page in self.client.v2_pages(self.path, params, limit=self.page_size):
            yield from page.records


class DealProductsStream(PerDealBatchStream):
    """Products attached to the deals that the `deals` stream reads in this run (so, after the
    first run, those of changed deals), through the bulk endpoint: one request (10 tokens) per
    100 deals, never one request per deal. Child of `deals`; selecting it alone still reads the
    deal list (from the deals bookmark, or the anchor date when deals is not selected)."""

    name = "deal_products"
    path = "/api/v2/deals/products"


class DealInstallmentsStream(PerDealBatchStream):
    """Installments of the deals the `deals` stream reads in this run, through the bulk
    endpoint: one request (10 tokens) per 100 deals."""

    name = "deal_installments"
    plan = "growth"  # "Only available in Growth and above plans"
    path = "/api/v2/deals/installments"


class PerRecordStream(ChildStream):
    """A list the API has only per parent record: read for the parent records that changed
    since the last run (all of them on a first run), never for one re-read only in the
    lookback window, a deleted one, or in a reconciliation. Each record carries its parent's
    id in `parent_column`."""

    activates_version = False  # it reads changes only, so it never tells what still exists
    parent_column: ClassVar[str]

    def _build_schema(self) -> dict[str, Any]:
        schema = super()._build_schema()
        schema["properties"][self.parent_column] = {"type": ["integer"]}
        return schema

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        for parent in self.parent_batch(context):
            if parent["changed"] and not parent.get("is_deleted"):
                for record in self.records_of(parent["id"]):
                    record[self.parent_column] = parent["id"]
                    yield record

    def records_of(self, parent_id: int) -> Iterator[dict[str, Any]]:
        raise NotImplementedError


class DealParticipantsStream(PerRecordStream):
    """Persons taking part in each changed deal (one request, 10 tokens, per deal and 500)."""

    name = "deal_participants"
    path = "/api/v1/deals/{id}/participants"
    parent_stream_type = DealsStream
    parent_column = "deal_id"

    def records_of(self, parent_id: int) -> Iterator[dict[str, Any]]:
        path = self.path.format(id=parent_id)
        for page in self.client.v1_pages(path, limit=self.page_size, per_record=True):
            yield from page.records


class ProductVariationsStream(PerRecordStream):
    """Variations of each changed product (one request, 10 tokens, per product and 500)."""

    name = "product_variations"
    path = "/api/v2/products/{id}/variations"
    parent_stream_type = ProductsStream
    parent_column = "product_id"

    def records_of(self, parent_id: int) -> Iterator[dict[str, Any]]:
        for page in self.client.v2_pages(self.path.format(id=parent_id), limit=self.page_size):
            yield from page.records


class OrganizationRelationshipsStream(PerRecordStream):
    """Parent and related organizations of each changed organization (one request, 20
    tokens, per organization). A relationship shows under both organizations, seen from each:
    keyed by its id and the organization it was read for."""

    name = "organization_relationships"
    path = "/api/v1/organizationRelationships"
    parent_stream_type = OrganizationsStream
    parent_column = "org_id"
    primary_keys: ClassVar[list[str]] = ["id", "org_id"]

    def records_of(self, parent_id: int) -> Iterator[dict[str, Any]]:
        yield from self.client.v1_per_record(self.path, {"org_id": parent_id}).records


class ChangesStream(ChildStream):
    """Field-level changes of the records its parent read in this run (see history.py): one
    change-log request (20 tokens) per changed record and 500 entries, none for an unchanged
    one. Deselected by default (docs/tap.md gives what a first and an hourly run cost)."""

    primary_keys: ClassVar[list[str]] = ["change_id"]
    reads_history = True
    activates_version = False
    entity: ClassVar[str]  # deals, persons, organizations
    id_column: ClassVar[str]

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        parent = self._pipedrive_tap.streams[self.parent_stream_type.name]
        custom = {field.key: field for field in parent.custom_columns}
        for record in self.parent_batch(context):
            entries = self._pipedrive_tap.change_log(self.entity, record)
            for entry in entries or []:
                yield history.change_record(entry, self.id_column, record["id"], custom)


class DealChangesStream(ChangesStream):
    name = "deal_changes"
    parent_stream_type = DealsStream
    entity = "deals"
    id_column = "deal_id"


class PersonChangesStream(ChangesStream):
    name = "person_changes"
    parent_stream_type = PersonsStream
    entity = "persons"
    id_column = "person_id"


class OrganizationChangesStream(ChangesStream):
    name = "organization_changes"
    parent_stream_type = OrganizationsStream
    entity = "organizations"
    id_column = "org_id"


class DealStageChangesStream(ChildStream):
    """Each deal's moves between stages, derived from the deal change entries (the same ones
    `deal_changes` reads, with no request of its own when both are selected), plus, from a
    deal's whole history, its first stage at add_time: time in each stage follows from this
    table alone."""

    name = "deal_stage_changes"
    parent_stream_type = DealsStream
    primary_keys: ClassVar[list[str]] = ["stage_change_id"]
    reads_history = True
    activates_version = False

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        for deal in self.parent_batch(context):
            entries = self._pipedrive_tap.change_log("deals", deal)
            if entries is not None:
                whole = deal["history_from"] is None
                yield from history.stage_changes(entries, deal, whole=whole)


STREAMS: list[type[PipedriveStream]] = [
    DealsStream,
    PersonsStream,
    OrganizationsStream,
    ActivitiesStream,
    ProductsStream,
    LeadsStream,
    NotesStream,
    FilesStream,
    PipelinesStream,
    StagesStream,
    UsersStream,
    ActivityTypesStream,
    LeadLabelsStream,
    CurrenciesStream,
    FiltersStream,
    DealFieldsStream,
    PersonFieldsStream,
    OrganizationFieldsStream,
    ProductFieldsStream,
    ActivityFieldsStream,
    ProjectFieldsStream,
    RolesStream,
    PermissionSetsStream,
    LeadSourcesStream,
    NoteFieldsStream,
    LeadFieldsStream,
    ProjectBoardsStream,
    ProjectPhasesStream,
    GoalsStream,
    CallLogsStream,
    ProjectsStream,
    TasksStream,
    MailThreadsStream,
    MailMessagesStream,
    DealProductsStream,
    DealInstallmentsStream,
    DealParticipantsStream,
    ProductVariationsStream,
    OrganizationRelationshipsStream,
    DealChangesStream,
    PersonChangesStream,
    OrganizationChangesStream,
    DealStageChangesStream,
]

__all__ = ["STREAMS"]
