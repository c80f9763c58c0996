"""The streams, declared: where each lives, how it is keyed, how it is read incrementally.
What each costs per run is in README.md ("Streams and their cost")."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from pipedrive_client import Page

from .client import (
    IncrementalStream,
    NewestFirstStream,
    PipedriveStream,
    ReferenceStream,
    rfc3339,
)

DEAL_PRODUCTS_BATCH = 100  # the bulk endpoint takes at most 100 deal ids


# -- incremental: v2, updated_since + sort_by=update_time ---------------------------------------


class DealsStream(IncrementalStream):
    """Active and archived deals (archived ones live in their own list), each with its own
    bookmark; deleted deals within the API's 30 days come with status=deleted."""

    name = "deals"
    path = "/api/v2/deals"
    custom_fields_path = "/api/v2/dealFields"
    deleted_flag = "is_deleted"

    @property
    def partitions(self) -> list[dict]:
        return [{"list": "deals"}, {"list": "archived"}]

    def list_path(self, context: dict | None) -> str:
        return self.path + ("/archived" if (context or {}).get("list") == "archived" else "")

    def request_params(self, context: dict | None) -> dict[str, Any]:
        params = super().request_params(context)
        if self.config.get("include_deleted", True):
            params["status"] = "open,won,lost,deleted"
        return params


class PersonsStream(IncrementalStream):
    name = "persons"
    path = "/api/v2/persons"
    custom_fields_path = "/api/v2/personFields"
    deleted_flag = "is_deleted"


class OrganizationsStream(IncrementalStream):
    name = "organizations"
    path = "/api/v2/organizations"
    custom_fields_path = "/api/v2/organizationFields"
    deleted_flag = "is_deleted"


class ActivitiesStream(IncrementalStream):
    name = "activities"
    path = "/api/v2/activities"
    deleted_flag = "is_deleted"


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
    """Active leads incrementally; archived leads (no updated_since there) newest first down to
    the bookmark. Two partitions, read in different orders, so the bookmarks move at the end of
    each partition rather than record by record."""

    name = "leads"
    path = "/api/v1/leads"
    generation = "v1"
    millis = True
    is_sorted = False
    custom_fields_path = "/api/v2/dealFields"  # leads inherit the deal fields

    @property
    def partitions(self) -> list[dict]:
        return [{"list": "leads"}, {"list": "archived"}]

    def list_path(self, context: dict | None) -> str:
        return self.path + ("/archived" if (context or {}).get("list") == "archived" else "")

    def request_params(self, context: dict | None) -> dict[str, Any]:
        if (context or {}).get("list") == "archived":
            return NewestFirstStream.request_params(self, context)  # type: ignore[arg-type]
        return super().request_params(context)

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        if (context or {}).get("list") == "archived":
            return NewestFirstStream.get_records(self, context)  # type: ignore[arg-type]
        return super().get_records(context)


class FilesStream(NewestFirstStream):
    name = "files"
    path = "/api/v1/files"
    generation = "v1"
    page_size = 100  # the files list allows at most 100
    deleted_flag = "!active_flag"


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

    def pages(self, context: dict | None) -> Iterator[Page]:
        body = self.client.session.get(self.list_path(context)).json()
        yield Page(body.get("data") or [], None, body)


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


class FieldDefinitionsStream(ReferenceStream):
    """v2 field definitions (cheaper than v1, and they carry field_code). Read once per run:
    the same list also names the custom field columns."""

    primary_keys: ClassVar[list[str]] = ["field_code"]

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


# -- expensive, deselected by default ------------------------------------------------------------


class MailThreadsStream(ReferenceStream):
    """Mail threads per folder (50 per page, 20 tokens a page)."""

    name = "mail_threads"
    path = "/api/v1/mailbox/mailThreads"
    generation = "v1"
    page_size = 50
    selected_by_default = False

    @property
    def partitions(self) -> list[dict]:
        return [{"folder": f} for f in ("inbox", "drafts", "sent", "archive")]

    def request_params(self, context: dict | None) -> dict[str, Any]:
        return {"folder": (context or {})["folder"]}

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


class DealProductsStream(ReferenceStream):
    """Products attached to deals through the bulk endpoint: one page of deal ids (10 tokens per
    500 deals) and one bulk request per 100 deals (10 tokens), never one request per deal."""

    name = "deal_products"
    path = "/api/v2/deals/products"
    selected_by_default = False

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        deal_pages = self.client.v2_pages("/api/v2/deals", {"status": "open,won,lost"})
        for page in deal_pages:
            ids = [d["id"] for d in page.records]
            for i in range(0, len(ids), DEAL_PRODUCTS_BATCH):
                batch = ",".join(str(x) for x in ids[i : i + DEAL_PRODUCTS_BATCH])
                for products in self.client.v2_pages(self.path, {"deal_ids": batch}):
                    yield from products.records


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
    MailThreadsStream,
    MailMessagesStream,
    DealProductsStream,
]

__all__ = ["STREAMS", "rfc3339"]
