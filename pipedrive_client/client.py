"""PipedriveClient: resource operations on the paced session, v2 wherever v2 has them."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from .config import BURST_WINDOW_SECONDS, ClientConfig
from .errors import ApiError
from .pagination import (
    Page,
    get_per_record,
    get_unpaged,
    iter_records,
    iter_v1_pages,
    iter_v2_pages,
)
from .session import PacedSession, body_of
from .stats import RunStats

logger = logging.getLogger("pipedrive_client")

V1 = "/api/v1"
V2 = "/api/v2"
# Lead conversion runs as a job; poll its status this many times before giving up.
CONVERSION_POLLS = 20
CONVERSION_POLL_SECONDS = 0.5


class PipedriveClient:
    def __init__(self, config: ClientConfig, stats: RunStats | None = None) -> None:
        self.config = config
        self.session = PacedSession(config, stats)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> PipedriveClient:
        return cls(ClientConfig.from_settings(settings))

    @property
    def stats(self) -> RunStats:
        return self.session.stats

    def close(self) -> None:
        self.session.close()

    def requests_per_second(self) -> float:
        """What the burst limit lets through, on average."""
        return self.session.pacer.limit / BURST_WINDOW_SECONDS

    def fastest_round_trip(self) -> float:
        """Seconds, the fastest request so far (infinite before the first answer)."""
        return self.session.pacer.fastest_round_trip

    def log_summary(self, log: logging.Logger = logger) -> None:
        log.info(self.stats.summary())

    # -- generic calls ------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return _data(body_of(self.session.get(path, params=params)))

    def post(self, path: str, payload: Mapping[str, Any]) -> Any:
        return _data(body_of(self.session.post(path, json=payload)))

    def patch(self, path: str, payload: Mapping[str, Any]) -> Any:
        return _data(body_of(self.session.patch(path, json=payload)))

    def v2_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        limit: int = 500,
        cursor: str | None = None,
    ) -> Iterator[Page]:
        return iter_v2_pages(self.session, path, params, limit, cursor)

    def v1_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        limit: int = 500,
        start: int = 0,
        continuation: bool = False,
        per_record: bool = False,
    ) -> Iterator[Page]:
        return iter_v1_pages(self.session, path, params, limit, start, continuation, per_record)

    def v1_per_record(self, path: str, params: Mapping[str, Any]) -> Page:
        return get_per_record(self.session, path, params)

    def v1_unpaged(self, path: str) -> Page:
        return get_unpaged(self.session, path)

    def v2_list(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        return iter_records(self.v2_pages(path, _clean(params)))

    def v1_list(self, path: str, limit: int = 500, **params: Any) -> Iterator[dict[str, Any]]:
        return iter_records(self.v1_pages(path, _clean(params), limit=limit))

    def _search(self, path: str, term: str, **params: Any) -> list[dict[str, Any]]:
        """All matches of a v2 search (`data.items[].item`), across its cursor pages."""
        items: list[dict[str, Any]] = []
        for page in self.v2_pages(path, _clean({"term": term, **params}), limit=100):
            data = page.body.get("data") or {}
            items.extend(hit["item"] for hit in data.get("items") or [] if hit.get("item"))
        return items

    # -- account ------------------------------------------------------------------------------

    def current_user(self) -> dict[str, Any]:
        """Cheap (2 tokens) check that the token and domain work."""
        return self.current_user_and_headers()[0]

    def current_user_and_headers(self) -> tuple[dict[str, Any], Mapping[str, str]]:
        """The token's user and company (GET /users/me, 2 tokens), and the answer's headers:
        the burst limit and the daily budget left, when the API sends them."""
        response = self.session.get(f"{V1}/users/me")
        return _data(body_of(response)) or {}, response.headers

    # -- persons ------------------------------------------------------------------------------

    def search_persons(self, term: str, fields: str = "email", exact: bool = True) -> list[dict]:
        return self._search(f"{V2}/persons/search", term, fields=fields, exact_match=exact)

    def get_person(self, person_id: int) -> dict[str, Any]:
        return self.get(f"{V2}/persons/{person_id}")

    def list_persons(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.v2_list(f"{V2}/persons", **filters)

    def add_person(self, **fields: Any) -> dict[str, Any]:
        return self.post(f"{V2}/persons", fields)

    def update_person(self, person_id: int, **fields: Any) -> dict[str, Any]:
        return self.patch(f"{V2}/persons/{person_id}", fields)

    def list_person_activities(self, person_id: int, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.v2_list(f"{V2}/activities", person_id=person_id, **filters)

    def list_person_fields(self) -> Iterator[dict[str, Any]]:
        return self.v2_list(f"{V2}/personFields")

    def create_person_field(self, name: str, field_type: str) -> dict[str, Any]:
        return self.post(f"{V2}/personFields", {"field_name": name, "field_type": field_type})

    # -- organizations ------------------------------------------------------------------------

    def search_organizations(
        self, term: str, fields: str | None = None, exact: bool = True
    ) -> list[dict]:
        return self._search(f"{V2}/organizations/search", term, fields=fields, exact_match=exact)

    def create_organization(self, **fields: Any) -> dict[str, Any]:
        return self.post(f"{V2}/organizations", fields)

    # -- deals --------------------------------------------------------------------------------

    def list_deals(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.v2_list(f"{V2}/deals", **filters)

    def create_deal(self, **fields: Any) -> dict[str, Any]:
        return self.post(f"{V2}/deals", fields)

    # -- activities, notes, leads -------------------------------------------------------------

    def create_activity(self, **fields: Any) -> dict[str, Any]:
        return self.post(f"{V2}/activities", fields)

    def list_notes(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.v1_list(f"{V1}/notes", **filters)

    def list_leads(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.v1_list(f"{V1}/leads", **filters)

    def create_lead(self, **fields: Any) -> dict[str, Any]:
        return self.post(f"{V1}/leads", fields)

    def convert_lead_to_deal(self, lead_id: str, **fields: Any) -> int:
        """Start the conversion job and wait for it; return the new deal's id."""
        job = self.post(f"{V2}/leads/{lead_id}/convert/deal", _clean(fields))
        conversion_id = job.get("conversion_id") or job.get("id")
        for _ in range(CONVERSION_POLLS):
            status = self.get(f"{V2}/leads/{lead_id}/convert/status/{conversion_id}") or {}
            if status.get("status") == "completed" and status.get("deal_id"):
                return int(status["deal_id"])
            if status.get("status") in ("failed", "rejected"):
                break
            time.sleep(CONVERSION_POLL_SECONDS)
        raise ApiError(
            f"Converting lead {lead_id} to a deal did not complete (last status: "
            f"{status.get('status')}). Check the lead in Pipedrive.",
            endpoint=f"POST {V2}/leads/{{id}}/convert/deal",
        )

    # -- pipelines, stages --------------------------------------------------------------------

    def list_pipelines(self) -> Iterator[dict[str, Any]]:
        return self.v2_list(f"{V2}/pipelines")

    def list_stages(self, pipeline_id: int | None = None) -> Iterator[dict[str, Any]]:
        return self.v2_list(f"{V2}/stages", pipeline_id=pipeline_id)


def _data(body: Any) -> Any:
    return body.get("data") if isinstance(body, dict) else body


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset filters and render booleans the way the API expects."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out
