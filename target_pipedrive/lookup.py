"""Finding persons and organizations (and the open deals of existing persons) before anything is
made, at the fewest API tokens: when several counterparts are unknown, one bulk listing page by
page while that costs fewer tokens than searching the rest one by one, else an exact search each.
The costs are the client's (its token cost table); listing and search are the client's too, so
a `data: null` page is never taken for the end of a list. What is found is cached for the run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from pipedrive_client import Page, PipedriveClient, token_cost

from .engagement import Counterpart
from .ledger import Ledger

logger = logging.getLogger("target-pipedrive")


def listing(kind: str) -> str:
    """The v2 list of `kind` (persons, organizations, deals, activities)."""
    return f"/api/v2/{kind}"


def page_tokens(kind: str) -> int:
    """What one page of the v2 list of `kind` costs."""
    return token_cost("GET", listing(kind))


def search_tokens(kind: str) -> int:
    return token_cost("GET", f"{listing(kind)}/search")


class Lookup:
    def __init__(
        self, client: PipedriveClient, ledger: Ledger, free_mail_domains: frozenset[str]
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.free_mail_domains = free_mail_domains
        self.persons_by_email: dict[str, dict] = {}
        self.orgs_by_domain: dict[str, Any] = {}
        self.open_deals: dict[str, Any] = {}  # person id -> the id of an open deal, or None
        self._listed: set[str] = set()  # kinds listed in full this run: a miss is a miss

    # -- in bulk ----------------------------------------------------------------------------------

    def preload(self, people: dict[str, Counterpart]) -> None:
        """When several counterparts are unknown, list persons (and organizations) in bulk while
        that costs fewer tokens than searching the rest one by one."""
        emails = {e for e in people if not self.ledger.object_id("person", e)}
        self._bulk_load("persons", emails)
        domains = {
            p.domain
            for e, p in people.items()
            if e in emails
            and p.domain not in self.free_mail_domains
            and not self.ledger.object_id("organization", p.domain)
        }
        self._bulk_load("organizations", domains)

    def preload_open_deals(self, emails: list[str]) -> None:
        """Persons who were in Pipedrive before us get a Deal only without an open one. When
        several need that check, list the open deals page by page while that costs less than
        one deal list per person."""
        ids: set[str] = set()
        for email in emails:
            if self.ledger.object_id("deal", email):
                continue
            if self.ledger.object_id("person", email):
                if self.ledger.object_id("person_existing", email) == "1":
                    ids.add(str(self.ledger.object_id("person", email)))
            elif email in self.persons_by_email:
                ids.add(str(self.persons_by_email[email]["id"]))
        ids -= set(self.open_deals)
        if len(ids) < 2:
            return
        page_cost = page_tokens("deals")  # a page of all open deals, or the list of one person
        found: dict[str, Any] = {}
        spent = 0
        for page in self._pages("deals", status="open"):
            spent += page_cost
            for deal in page.records:
                owner = str(deal.get("person_id"))
                if owner in ids:
                    found.setdefault(owner, deal["id"])
            if page.next is None:
                found = {pid: found.get(pid) for pid in ids}  # listed in full: a miss is a miss
                break
            if spent + page_cost > len(ids - found.keys()) * page_cost:
                break
        self.open_deals.update(found)

    def _bulk_load(self, kind: str, wanted: set[str]) -> None:
        cache = self.persons_by_email if kind == "persons" else self.orgs_by_domain
        missing = {w for w in wanted if w not in cache}
        page_cost, search_cost = page_tokens(kind), search_tokens(kind)
        if kind in self._listed or len(missing) * search_cost < 2 * page_cost + 1:
            return  # nothing to find, or one search is cheaper than the first two pages
        full_pages = self.ledger.object_id("list_pages", kind)
        if full_pages and int(full_pages) * page_cost > len(missing) * search_cost:
            return  # the last full listing took more pages than these searches cost
        spent, read, page = 0, 0, None
        for page in self._pages(kind):
            spent += page_cost
            read += 1
            for record in page.records:
                keys = emails_of(record) if kind == "persons" else domains_of(record)
                for key in keys:
                    if kind == "persons":
                        cache.setdefault(key, record)
                    else:
                        cache.setdefault(key, record["id"])
                    missing.discard(key)
            if page.next is None:
                self._listed.add(kind)
                self.ledger.save_object("list_pages", kind, read)
                break
            if not missing or spent + page_cost > len(missing) * search_cost:
                break
        if page is not None:
            logger.info("Listed %d page(s) of %s to find %d unknown.", read, kind, len(wanted))

    def _pages(self, kind: str, **params: Any) -> Iterator[Page]:
        return self.client.v2_pages(listing(kind), params)

    # -- one by one -------------------------------------------------------------------------------

    def find_person(self, email: str) -> dict | None:
        if email in self.persons_by_email:
            return self.persons_by_email[email]
        if "persons" in self._listed:
            return None
        return self.search_person(email)

    def search_person(self, email: str) -> dict | None:
        for hit in self.client.search_persons(email, fields="email"):
            if email in {str(e).lower() for e in emails_of(hit)} or not emails_of(hit):
                self.persons_by_email[email] = hit
                return hit
        return None

    def find_organization(self, domain: str) -> Any:
        if domain in self.orgs_by_domain:
            return self.orgs_by_domain[domain]
        if "organizations" in self._listed:
            return None
        return self.search_organization(domain)

    def search_organization(self, domain: str) -> Any:
        hits = self.client.search_organizations(domain)
        named = [h for h in hits if str(h.get("name", "")).lower() == domain]
        hit = (named or hits or [None])[0]
        if hit:
            self.orgs_by_domain[domain] = hit["id"]
            return hit["id"]
        return None

    def open_deal(self, person_id: Any) -> Any:
        """The id of an open deal of an existing person, if there is one (cached for the run)."""
        key = str(person_id)
        if key not in self.open_deals:
            self.open_deals[key] = next(
                (d["id"] for d in self.client.list_deals(person_id=person_id, status="open")),
                None,
            )
        return self.open_deals[key]


def emails_of(record: dict) -> list[str]:
    out = []
    for item in record.get("emails") or []:
        value = item.get("value") if isinstance(item, dict) else item
        if value:
            out.append(str(value).strip().lower())
    return out


def domains_of(record: dict) -> set[str]:
    """The names an organization answers to: its name, and a domain or website if it has one."""
    out = {str(record.get("name") or "").strip().lower()}
    for key in ("domain", "website"):
        value = str(record.get(key) or "").strip().lower()
        value = value.removeprefix("https://").removeprefix("http://").removeprefix("www.")
        out.add(value.split("/", 1)[0])
    return out - {""}


def org_of(person: dict) -> Any:
    """The organization id of a person record (v2 `org_id`, or a v1-style object)."""
    org = person.get("org_id") or person.get("organization")
    if isinstance(org, dict):
        org = org.get("id") or org.get("value")
    return org or None
