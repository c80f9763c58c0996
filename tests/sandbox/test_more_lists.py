"""Projects, tasks, call logs, goals, roles, permission sets, lead sources, lead and project
fields, boards, phases and the children of deals, products and organizations: the described
shapes, pages, token costs, filters, the writes to children that move their parents, churn, and
the same company from the same seed."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from openapi_schema_validator import OAS30Validator

from pipedrive_sandbox import Sandbox
from pipedrive_sandbox.extras import child_ids
from pipedrive_sandbox.generator import SIZES, resolve_counts
from pipedrive_sandbox.render import records_shape

from .helpers import MILLIS_TIME, V1_TIME, all_v1, all_v2, call, check, description, get

COSTS = json.loads(resources.files("pipedrive_client").joinpath("token_costs.json").read_text())
# Shape name -> (generation, described path, query). Child lists name their parent below.
LISTS = {
    "roles": ("v1", "/roles", {}),
    "permission_sets": ("v1", "/permissionSets", {}),
    "lead_sources": ("v1", "/leadSources", {}),
    "lead_fields": ("v1", "/leadFields", {}),
    "v1_note_fields": ("v1", "/noteFields", {}),
    "project_fields": ("v2", "/projectFields", {}),
    "project_boards": ("v2", "/boards", {}),
    "project_phases": ("v2", "/phases", {"board_id": 1}),
    "goals": ("v1", "/goals/find", {"assignee.type": "person"}),
    "call_logs": ("v1", "/callLogs", {}),
    "projects": ("v2", "/projects", {}),
    "projects_archived": ("v2", "/projects/archived", {}),
    "tasks": ("v2", "/tasks", {}),
    "deal_participants": ("v1", "/deals/{id}/participants", {}),
    "deal_installments": ("v2", "/deals/installments", {}),
    "product_variations": ("v2", "/products/{id}/variations", {}),
    "organization_relationships": ("v1", "/organizationRelationships", {}),
}
TIMES = {"projects": MILLIS_TIME, "tasks": MILLIS_TIME, "project_boards": MILLIS_TIME}


@pytest.fixture(scope="module")
def small():
    with Sandbox(seed=1, size="small").start() as sb:
        yield sb


def parent_with(sb: Sandbox, table: str, at_least: int = 1) -> int:
    """A live parent with at least this many children of `table`."""
    parents = {
        "deal_participants": "deals",
        "deal_installments": "deals",
        "product_variations": "products",
    }[table]
    for rid in sb.ids(parents):
        if len(child_ids(sb.store, table, [rid])) >= at_least:
            return rid
    raise AssertionError(f"no {parents} with {at_least} {table}")


def related_org(sb: Sandbox) -> int:
    return next(o for o in sb.ids("organizations") if sb.store.extras.relationship_ids(o))


def request(sb: Sandbox, shape: str) -> tuple[str, dict]:
    """The sandbox path and query that read a list (a parent with children for child lists)."""
    generation, path, query = LISTS[shape]
    query = dict(query)
    if shape in ("deal_participants", "product_variations"):
        path = path.format(id=parent_with(sb, shape, 2))
    if shape == "deal_installments":
        deals = [d for d in sb.ids("deals") if child_ids(sb.store, shape, [d])][:100]
        query["deal_ids"] = ",".join(map(str, deals))
    if shape == "organization_relationships":
        query["org_id"] = related_org(sb)
    return f"/api/{generation}{path}", query


def records(shape: str, body: dict) -> list[dict]:
    data = body["data"]
    return data["goals"] if shape == "goals" else data or []


def described_schema(generation: str, path: str) -> dict:
    """The 200 schema of a GET in the official description, every $ref inlined."""
    spec = description(generation)

    def inline(node, seen=()):
        if isinstance(node, dict):
            if "$ref" in node:
                if node["$ref"] in seen:
                    return {}
                target = spec
                for part in node["$ref"].lstrip("#/").split("/"):
                    target = target[part]
                return inline(target, (*seen, node["$ref"]))
            return {k: inline(v, seen) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v, seen) for v in node]
        return node

    response = inline(spec["paths"][path]["get"]["responses"]["200"])
    return response["content"]["application/json"]["schema"]


def tolerated(error) -> bool:
    """The description's own gaps that the API shows too (as `spec_check.py` allows): a null
    `next_cursor` on the last page, `data: null` on an empty v1 page."""
    where = list(error.absolute_path)
    return error.instance is None and where in (["additional_data", "next_cursor"], ["data"])


@pytest.mark.parametrize("shape", sorted(LISTS))
def test_each_list_answers_the_described_shape(small, shape) -> None:
    path, query = request(small, shape)
    body = get(small, path, **query)
    assert body["success"] is True
    found = records(shape, body)
    assert found, f"{path} served nothing"
    spec = records_shape(shape)
    for record in found:
        assert set(record) <= set(spec["p"]), set(record) - set(spec["p"])
        for key, value in record.items():
            check(value, spec["p"][key], f"{path} {key}")
    if shape in TIMES:
        assert all(TIMES[shape].match(r["update_time"]) for r in found)
    generation, described, _ = LISTS[shape]
    validator = OAS30Validator(described_schema(generation, described))
    errors = [e for e in validator.iter_errors(body) if not tolerated(e)]
    assert not errors, [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]]


@pytest.mark.parametrize("shape", sorted(LISTS))
def test_every_described_field_has_a_value_on_some_record(small, shape) -> None:
    """Every field of the description's schema and examples is served (a sync emits each)."""
    path, query = request(small, shape)
    if shape in ("project_phases", "deal_participants", "product_variations"):
        found = _whole(small, shape, path, query)
    elif shape == "organization_relationships":
        found = []
        for org in [
            o for o in small.ids("organizations") if small.store.extras.relationship_ids(o)
        ]:
            found += records(shape, get(small, path, org_id=org))
    elif LISTS[shape][0] == "v2" and shape != "project_boards":
        found = all_v2(small, path, **query)
    elif shape in ("roles", "call_logs", "lead_fields", "v1_note_fields"):
        found = all_v1(small, path, **query)
    else:
        found = records(shape, get(small, path, **query))
    if shape == "goals":
        found = records(shape, get(small, path, **{"assignee.type": "person", "is_active": 0}))
        found += records(shape, get(small, path, **{"assignee.type": "person"}))
    seen = set().union(*found)
    assert set(records_shape(shape)["p"]) <= seen, set(records_shape(shape)["p"]) - seen


def _whole(sb: Sandbox, shape: str, path: str, query: dict) -> list[dict]:
    """Every record of a list read per board or per parent."""
    if shape == "project_phases":
        boards = get(sb, "/api/v2/boards")["data"]
        return [p for b in boards for p in get(sb, path, board_id=b["id"])["data"]]
    if shape == "deal_participants":
        deals = [d for d in sb.ids("deals") if child_ids(sb.store, shape, [d])]
        return [p for d in deals for p in all_v1(sb, f"/api/v1/deals/{d}/participants")]
    products = [p for p in sb.ids("products") if child_ids(sb.store, shape, [p])]
    return [v for p in products for v in all_v2(sb, f"/api/v2/products/{p}/variations")]


# -- pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [
        "roles",
        "lead_fields",
        "project_fields",
        "call_logs",
        "projects",
        "projects_archived",
        "tasks",
        "deal_participants",
        "deal_installments",
        "product_variations",
    ],
)
def test_pages_join_up_without_gaps_or_repeats(small, shape) -> None:
    path, query = request(small, shape)
    key = "key" if shape == "lead_fields" else "field_code" if shape == "project_fields" else "id"
    size = 1 if shape in ("deal_participants", "product_variations") else 2
    if LISTS[shape][0] == "v2":
        whole = get(small, path, **query, limit=500)["data"]
        paged = all_v2(small, path, **query, limit=size)
    else:
        whole = all_v1(small, path, **query, limit=50)
        paged = all_v1(small, path, **query, limit=size)
    ids = [r[key] for r in paged]
    assert len(ids) > size, "one page only"
    assert ids == [r[key] for r in whole]
    assert len(set(ids)) == len(ids)


def test_v1_children_put_pagination_directly_under_additional_data(small) -> None:
    deal = parent_with(small, "deal_participants", 2)
    body = get(small, f"/api/v1/deals/{deal}/participants", limit=1)
    assert body["additional_data"] == {
        "start": 0,
        "limit": 1,
        "more_items_in_collection": True,
        "next_start": 1,
    }
    org = related_org(small)
    extra = get(small, "/api/v1/organizationRelationships", org_id=org)["additional_data"]
    assert extra["more_items_in_collection"] is False


def test_call_logs_come_in_pages_of_at_most_50(small) -> None:
    body = get(small, "/api/v1/callLogs")
    assert len(body["data"]) == 50
    assert body["additional_data"]["pagination"]["limit"] == 50
    assert call(small, "GET", "/api/v1/callLogs", params={"limit": 51}).status_code == 400


def test_call_logs_are_the_token_users_with_text_ids(small) -> None:
    logs = all_v1(small, "/api/v1/callLogs")
    assert logs
    assert {log["user_id"] for log in logs} == {1}
    assert all(log["id"].startswith("CA") and len(log["id"]) == 34 for log in logs)
    assert len(logs) < len(small.store.tables["call_logs"])  # the others' calls are not listed


# -- token costs ------------------------------------------------------------------------------


@pytest.mark.slow  # every list read whole, twice: about a minute
def test_each_list_costs_the_described_tokens(small) -> None:
    small.reset_stats()
    for shape in LISTS:
        path, query = request(small, shape)
        get(small, path, **query)
    endpoints = small.stats()["by_endpoint"]
    for shape, (generation, described, _) in LISTS.items():
        cost = _described_cost(generation, described)
        template = f"GET /api/{generation}{described}"
        hits = [v for k, v in endpoints.items() if _same(k, template)]
        assert hits, (template, sorted(endpoints))
        assert sum(h["tokens"] for h in hits) == cost * sum(h["requests"] for h in hits), shape


def _described_cost(generation: str, path: str) -> int:
    return description(generation)["paths"][path]["get"]["x-token-cost"]


def _same(counted: str, template: str) -> bool:
    a, b = counted.split("/"), template.split("/")
    return len(a) == len(b) and all(x == y or y.startswith("{") for x, y in zip(a, b, strict=True))


def test_child_writes_cost_the_described_tokens(sandbox_factory) -> None:
    sb = sandbox_factory(size="small")
    deal = parent_with(sb, "deal_installments")
    sb.reset_stats()
    response = call(sb, "POST", f"/api/v2/deals/{deal}/installments", json=_installment())
    assert response.status_code == 200
    endpoints = sb.stats()["by_endpoint"]
    assert (
        endpoints["POST /api/v2/deals/{id}/installments"]["tokens"]
        == COSTS["POST /api/v2/deals/{id}/installments"]
    )


# -- filters ----------------------------------------------------------------------------------


def bad(sb: Sandbox, path: str, **params) -> None:
    response = call(sb, "GET", path, params=params)
    assert response.status_code == 400, (path, params, response.text)
    assert response.json()["success"] is False


def test_reference_lists_filter_and_refuse_bad_values(small) -> None:
    sales = get(small, "/api/v1/permissionSets", app="sales")["data"]
    assert sales
    assert {s["app"] for s in sales} == {"sales"}
    assert len(get(small, "/api/v1/permissionSets")["data"]) > len(sales)
    bad(small, "/api/v1/permissionSets", app="crm")
    boards = get(small, "/api/v2/boards")["data"]
    assert len(boards) >= 2
    for board in boards:
        phases = get(small, "/api/v2/phases", board_id=board["id"])["data"]
        assert phases
        assert {p["board_id"] for p in phases} == {board["id"]}
    bad(small, "/api/v2/phases")  # board_id is required
    bad(small, "/api/v2/phases", board_id="first")
    names = [s["name"] for s in get(small, "/api/v1/leadSources")["data"]]
    assert "API" in names
    assert len(names) == 10


def test_goals_are_the_token_users_unless_everyones_are_asked_for(small) -> None:
    mine = records("goals", get(small, "/api/v1/goals/find"))
    assert mine
    assert all(g["assignee"] == {"id": 1, "type": "person"} for g in mine)
    assert all(g["is_active"] for g in mine)
    everyone = records("goals", get(small, "/api/v1/goals/find", **{"assignee.type": "person"}))
    assert {g["assignee"]["id"] for g in everyone} > {1}
    inactive = records("goals", get(small, "/api/v1/goals/find", is_active="false"))
    assert all(not g["is_active"] for g in inactive)
    user2 = records("goals", get(small, "/api/v1/goals/find", **{"assignee.id": 2}))
    assert all(g["assignee"]["id"] == 2 for g in user2)
    won = records("goals", get(small, "/api/v1/goals/find", **{"type.name": "deals_won"}))
    assert all(g["type"]["name"] == "deals_won" for g in won)
    bad(small, "/api/v1/goals/find", **{"type.name": "calls_made"})
    bad(small, "/api/v1/goals/find", is_active="sometimes")
    bad(small, "/api/v1/goals/find", **{"period.start": "2026-01-01"})  # without period.end
    bad(small, "/api/v1/goals/find", **{"period.start": "2026-13-01", "period.end": "2027-01-01"})


def test_projects_filter_as_described(small) -> None:
    active = all_v2(small, "/api/v2/projects")
    archived = all_v2(small, "/api/v2/projects/archived")
    assert active
    assert archived
    assert not {p["id"] for p in active} & {p["id"] for p in archived}
    assert all(p["archive_time"] is None for p in active)
    assert all(p["archive_time"] for p in archived)
    assert "deleted" not in {p["status"] for p in active + archived}
    for status in ("open", "completed", "canceled"):
        found = all_v2(small, "/api/v2/projects", status=status)
        assert {p["status"] for p in found} <= {status}
    two = all_v2(small, "/api/v2/projects", status="open,completed")
    assert {p["status"] for p in two} == {"open", "completed"}
    sample = active[0]
    for name, key in (("phase_id", "phase_id"), ("deal_id", "deal_ids")):
        value = sample[key] if name == "phase_id" else sample[key][0]
        found = all_v2(small, "/api/v2/projects", **{name: value})
        assert sample["id"] in {p["id"] for p in found}
        assert all(value == p[key] or value in (p[key] or []) for p in found)
    person, org = sample["person_ids"][0], sample["org_ids"][0]
    assert all(
        person in p["person_ids"] for p in all_v2(small, "/api/v2/projects", person_id=person)
    )
    assert all(org in p["org_ids"] for p in all_v2(small, "/api/v2/projects", org_id=org))
    assert len(all_v2(small, "/api/v2/projects", filter_id=1)) == len(active)
    bad(small, "/api/v2/projects", status="paused")
    bad(small, "/api/v2/projects", phase_id="x")
    bad(small, "/api/v2/projects", filter_id=999)
    bad(small, "/api/v2/projects/archived", limit=501)


def test_deleted_projects_only_when_asked_for(sandbox_factory) -> None:
    sb = sandbox_factory(size="small")
    gone = sb.churn.delete("projects", n=1)[0]
    assert gone not in {p["id"] for p in all_v2(sb, "/api/v2/projects")}
    deleted = all_v2(sb, "/api/v2/projects", status="deleted")
    assert gone in {p["id"] for p in deleted}
    assert {p["status"] for p in deleted} == {"deleted"}


def test_tasks_filter_as_described(small) -> None:
    tasks = all_v2(small, "/api/v2/tasks", limit=500)
    for name, value in (("is_done", "true"), ("is_milestone", "false")):
        found = all_v2(small, "/api/v2/tasks", limit=500, **{name: value})
        assert found
        assert all(t[name] is (value == "true") for t in found)
    sub = next(t for t in tasks if t["parent_task_id"])
    children = all_v2(small, "/api/v2/tasks", parent_task_id=sub["parent_task_id"])
    assert sub["id"] in {t["id"] for t in children}
    assert {t["parent_task_id"] for t in children} == {sub["parent_task_id"]}
    roots = all_v2(small, "/api/v2/tasks", parent_task_id="null", limit=500)
    assert roots
    assert all(t["parent_task_id"] is None for t in roots)
    assert len(roots) + sum(1 for t in tasks if t["parent_task_id"]) == len(tasks)
    project = all_v2(small, "/api/v2/tasks", project_id=sub["project_id"])
    assert {t["project_id"] for t in project} == {sub["project_id"]}
    mine = all_v2(small, "/api/v2/tasks", assignee_id=2, limit=500)
    assert mine
    assert all(2 in t["assignee_ids"] for t in mine)
    bad(small, "/api/v2/tasks", is_done="maybe")
    bad(small, "/api/v2/tasks", parent_task_id="top")
    bad(small, "/api/v2/tasks", assignee_id="me")


def test_installments_sort_as_described_for_at_most_100_deals(small) -> None:
    path, query = request(small, "deal_installments")
    deals = {int(d) for d in query["deal_ids"].split(",")}
    by_date = all_v2(small, path, **query, sort_by="billing_date", limit=3)
    assert {i["deal_id"] for i in by_date} == deals
    keys = [(i["billing_date"], i["id"]) for i in by_date]
    assert keys == sorted(keys)
    newest = all_v2(small, path, **query, sort_by="deal_id", sort_direction="desc", limit=3)
    keys = [(i["deal_id"], i["id"]) for i in newest]
    assert keys == sorted(keys, reverse=True)
    bad(small, path, deal_ids=",".join(map(str, range(1, 102))))
    bad(small, path)  # deal_ids is required
    bad(small, path, deal_ids="1,two")
    bad(small, path, deal_ids="1", sort_by="amount")
    bad(small, path, deal_ids="1", sort_direction="up")
    bad(small, path, deal_ids="1", cursor="not-a-cursor")


def test_unknown_parents_are_not_found(small) -> None:
    for path, params in (
        ("/api/v1/deals/999999/participants", {}),
        ("/api/v2/products/999999/variations", {}),
        ("/api/v1/organizationRelationships", {"org_id": 999999}),
    ):
        assert call(small, "GET", path, params=params).status_code == 404
    bad(small, "/api/v1/organizationRelationships")  # org_id is required


def test_relationships_read_from_either_side(small) -> None:
    org = related_org(small)
    relation = get(small, "/api/v1/organizationRelationships", org_id=org)["data"][0]
    other = relation["calculated_related_org_id"]
    back = get(small, "/api/v1/organizationRelationships", org_id=other)["data"]
    mirror = next(r for r in back if r["id"] == relation["id"])
    assert mirror["calculated_related_org_id"] == org
    pair = {relation["calculated_type"], mirror["calculated_type"]}
    assert pair in ({"parent", "daughter"}, {"related"})


# -- writes to children move their parents ----------------------------------------------------


def _installment() -> dict:
    return {"description": "Setup fee", "amount": 250.5, "billing_date": "2027-01-15"}


def _update_time(sb: Sandbox, kind: str, rid: int) -> str:
    return get(sb, f"/api/v2/{kind}/{rid}")["data"]["update_time"]


def _moved(sb: Sandbox, kind: str, rid: int, write) -> object:
    before = _update_time(sb, kind, rid)
    sb.clock.advance(5)
    result = write()
    assert _update_time(sb, kind, rid) > before, f"{kind} {rid} kept its update_time"
    return result


def test_adding_and_deleting_a_participant_moves_the_deal(sandbox_factory) -> None:
    sb = sandbox_factory(size="small")
    deal = parent_with(sb, "deal_participants")
    listed = f"/api/v1/deals/{deal}/participants"
    person = next(p for p in sb.ids("persons") if p not in _people(sb, listed))
    added = _moved(
        sb, "deals", deal, lambda: call(sb, "POST", listed, json={"person_id": person}).json()
    )
    assert added["success"] is True
    assert added["data"]["person"]["id"] == person
    assert added["data"]["related_item_id"] == deal
    assert person in _people(sb, listed)
    assert call(sb, "POST", listed, json={"person_id": person}).status_code == 400  # again
    assert call(sb, "POST", listed, json={}).status_code == 400
    assert call(sb, "POST", listed, json={"person_id": 10**6}).status_code == 400
    pid = added["data"]["id"]
    gone = _moved(sb, "deals", deal, lambda: call(sb, "DELETE", f"{listed}/{pid}").json())
    assert gone == {"success": True, "data": {"id": pid}}
    assert person not in _people(sb, listed)
    assert call(sb, "DELETE", f"{listed}/{pid}").status_code == 404
    generated = all_v1(sb, listed)[0]["id"]
    _moved(sb, "deals", deal, lambda: call(sb, "DELETE", f"{listed}/{generated}"))
    assert generated not in {p["id"] for p in all_v1(sb, listed)}


def _people(sb: Sandbox, path: str) -> set[int]:
    return {p["person"]["id"] for p in all_v1(sb, path)}


def test_adding_and_deleting_an_installment_moves_the_deal(sandbox_factory) -> None:
    sb = sandbox_factory(size="small")
    deal = parent_with(sb, "deal_installments")
    path = f"/api/v2/deals/{deal}/installments"
    added = _moved(sb, "deals", deal, lambda: call(sb, "POST", path, json=_installment()).json())
    assert added["data"] == {"id": added["data"]["id"], "deal_id": deal, **_installment()}
    listed = all_v2(sb, "/api/v2/deals/installments", deal_ids=deal)
    assert added["data"] in listed
    iid = added["data"]["id"]
    _moved(sb, "deals", deal, lambda: call(sb, "DELETE", f"{path}/{iid}"))
    assert iid not in {i["id"] for i in all_v2(sb, "/api/v2/deals/installments", deal_ids=deal)}
    for body in (
        {**_installment(), "amount": 0},
        {**_installment(), "billing_date": "15.01.2027"},
        {"amount": 5, "billing_date": "2027-01-15"},
    ):
        assert call(sb, "POST", path, json=body).status_code == 400
    bare = next(d for d in sb.ids("deals") if not sb.store.deal_product_ids([d]))
    response = call(sb, "POST", f"/api/v2/deals/{bare}/installments", json=_installment())
    assert response.status_code == 400  # no one-time product on the deal


def test_adding_and_deleting_a_variation_moves_the_product(sandbox_factory) -> None:
    sb = sandbox_factory(size="small")
    product = parent_with(sb, "product_variations")
    path = f"/api/v2/products/{product}/variations"
    body = {"name": "Gift box", "prices": [{"currency": "EUR", "price": 12.5, "notes": "Boxed"}]}
    response = _moved(sb, "products", product, lambda: call(sb, "POST", path, json=body))
    assert response.status_code == 201
    added = response.json()["data"]
    assert added["prices"] == [
        {
            "product_variation_id": added["id"],
            "currency": "EUR",
            "price": 12.5,
            "cost": 0,
            "direct_cost": 0,
            "notes": "Boxed",
        }
    ]
    assert added in all_v2(sb, path)
    default = call(sb, "POST", path, json={"name": "Plain"}).json()["data"]
    assert default["prices"][0]["price"] == 0
    _moved(sb, "products", product, lambda: call(sb, "DELETE", f"{path}/{added['id']}"))
    assert added["id"] not in {v["id"] for v in all_v2(sb, path)}
    assert call(sb, "POST", path, json={"prices": []}).status_code == 400
    assert call(sb, "POST", path, json={"name": "x", "prices": [{"price": 1}]}).status_code == 400


def test_adding_and_deleting_a_relationship_moves_both_organizations(sandbox_factory) -> None:
    sb = sandbox_factory(size="small")
    owner, linked = sb.ids("organizations")[:2]
    body = {"type": "parent", "rel_owner_org_id": owner, "rel_linked_org_id": linked}
    before = _update_time(sb, "organizations", linked)
    response = _moved(
        sb,
        "organizations",
        owner,
        lambda: call(sb, "POST", "/api/v1/organizationRelationships", json=body).json(),
    )
    assert _update_time(sb, "organizations", linked) > before
    rid = response["data"]["id"]
    assert response["data"]["rel_owner_org_id"]["value"] == owner
    seen = get(sb, "/api/v1/organizationRelationships", org_id=linked)["data"]
    mine = next(r for r in seen if r["id"] == rid)
    assert (mine["calculated_type"], mine["calculated_related_org_id"]) == ("parent", owner)
    _moved(
        sb,
        "organizations",
        linked,
        lambda: call(sb, "DELETE", f"/api/v1/organizationRelationships/{rid}"),
    )
    left = get(sb, "/api/v1/organizationRelationships", org_id=linked)["data"] or []
    assert rid not in {r["id"] for r in left}
    for wrong in ({**body, "type": "sister"}, {**body, "rel_linked_org_id": owner}, {}):
        response = call(sb, "POST", "/api/v1/organizationRelationships", json=wrong)
        assert response.status_code == 400


def test_a_changed_child_brings_its_parent_into_an_incremental_read(sandbox_factory) -> None:
    """What an incremental connector relies on: the parent of a changed child is among the
    records updated since the last read."""
    sb = sandbox_factory(size="small")
    deal = parent_with(sb, "deal_participants")
    sb.clock.advance(5)
    mark = get(sb, "/api/v2/deals", limit=1, sort_by="update_time", sort_direction="desc")
    since = mark["data"][0]["update_time"]
    sb.clock.advance(5)
    listed = f"/api/v1/deals/{deal}/participants"
    call(sb, "DELETE", f"{listed}/{all_v1(sb, listed)[0]['id']}")
    changed = all_v2(sb, "/api/v2/deals", updated_since=since, sort_by="update_time")
    assert deal in {d["id"] for d in changed if d["update_time"] > since}


# -- churn ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "path", "key"),
    [
        ("call_logs", "/api/v1/callLogs", "subject"),
        ("projects", "/api/v2/projects", "title"),
        ("tasks", "/api/v2/tasks", "title"),
    ],
)
def test_churn_creates_updates_and_deletes(sandbox_factory, entity, path, key) -> None:
    sb = sandbox_factory()
    read = all_v1 if path.startswith("/api/v1") else all_v2
    before = {r["id"]: r for r in read(sb, path)}
    made = sb.churn.create(entity, 2)
    after = {r["id"]: r for r in read(sb, path)}
    assert set(after) == set(before) | set(made)
    edited = sb.churn.update(entity, ids=[made[0]])
    assert read(sb, path)
    assert next(r for r in read(sb, path) if r["id"] == edited[0])[key].endswith("(edited)")
    gone = sb.churn.delete(entity, ids=[made[1], next(iter(before))])
    assert not set(gone) & {r["id"] for r in read(sb, path)}
    response = call(sb, "GET", "/api/v2/deals")  # the sandbox still answers
    assert response.status_code == 200


def test_churn_archives_projects_over_http(sandbox_factory) -> None:
    import requests

    sb = sandbox_factory()
    project = all_v2(sb, "/api/v2/projects")[0]["id"]
    answer = requests.post(
        sb.api_url + "/_admin/churn",
        json={"action": "archive", "entity": "projects", "ids": [project]},
        timeout=5,
    )
    assert answer.status_code == 200
    assert project not in {p["id"] for p in all_v2(sb, "/api/v2/projects")}
    archived = {p["id"]: p for p in all_v2(sb, "/api/v2/projects/archived")}
    assert archived[project]["archive_time"]


# -- generation -------------------------------------------------------------------------------


def _bodies(sb: Sandbox) -> dict[str, object]:
    out = {}
    for shape in LISTS:
        path, query = request(sb, shape)
        query = {k: str(v) for k, v in query.items()}
        status, body = sb.api.handle("GET", path, {**query, "limit": "50"}, None)
        assert status == 200, (path, body)
        out[shape] = body
    return out


def test_the_same_seed_gives_the_same_lists() -> None:
    first, again = Sandbox(seed=5, size="small"), Sandbox(seed=5, size="small")
    assert _bodies(first) == _bodies(again)
    other = _bodies(Sandbox(seed=6, size="small"))
    differ = [s for s, body in _bodies(first).items() if body != other[s]]
    assert {"call_logs", "projects", "tasks", "goals", "deal_participants"} <= set(differ)


def test_sizes_grow_the_lists_in_proportion() -> None:
    sizes = {size: resolve_counts(size, None) for size in SIZES}
    for entity in ("call_logs", "projects", "tasks"):
        assert sizes["tiny"][entity] < sizes["small"][entity] < sizes["medium"][entity]
        assert sizes["medium"][entity] < sizes["large"][entity]
    assert resolve_counts("small", {"deals": 3000})["projects"] == 300
    assert resolve_counts("small", {"projects": 7})["projects"] == 7
    tiny, small = Sandbox(seed=1, size="tiny"), Sandbox(seed=1, size="small")
    for table in (
        "roles",
        "goals",
        "deal_participants",
        "deal_installments",
        "product_variations",
        "organization_relationships",
    ):
        assert 0 < len(tiny.store.tables[table]) <= len(small.store.tables[table]), table


def test_notes_name_the_projects_and_tasks_the_lists_have(small) -> None:
    notes = all_v1(small, "/api/v1/notes")
    projects = {p["id"]: p for p in all_v2(small, "/api/v2/projects")}
    projects |= {p["id"]: p for p in all_v2(small, "/api/v2/projects/archived")}
    tasks = {t["id"]: t for t in all_v2(small, "/api/v2/tasks", limit=500)}
    pinned = [n for n in notes if n.get("project_id")]
    assert pinned
    assert all(n["project"]["title"] == projects[n["project_id"]]["title"] for n in pinned)
    tasked = [n for n in notes if n.get("task_id")]
    assert tasked
    assert all(n["task"]["title"] == tasks[n["task_id"]]["title"] for n in tasked)


def test_times_of_v1_children_are_v1_times(small) -> None:
    deal = parent_with(small, "deal_participants")
    participant = get(small, f"/api/v1/deals/{deal}/participants")["data"][0]
    assert V1_TIME.match(participant["add_time"])
    relation = get(small, "/api/v1/organizationRelationships", org_id=related_org(small))
    assert V1_TIME.match(relation["data"][0]["update_time"])


def test_v2_field_lists_page_on_past_their_first_page(small) -> None:
    """Field lists are keyed by text (`field_code`): their cursors carry the key."""
    whole = get(small, "/api/v2/dealFields", limit=500)["data"]
    paged = all_v2(small, "/api/v2/dealFields", limit=3)
    assert [f["field_code"] for f in paged] == [f["field_code"] for f in whole]
    assert len(whole) > 3
