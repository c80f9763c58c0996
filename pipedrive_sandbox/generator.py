"""Deterministic sample data: the same seed and size give the same company every time."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DAY_MS = 86_400_000

SIZES = {
    "tiny": {
        "organizations": 20,
        "persons": 40,
        "deals": 50,
        "activities": 60,
        "products": 10,
        "leads": 20,
        "notes": 30,
        "files": 10,
        "mail_threads": 8,
        "users": 3,
    },
    "small": {
        "organizations": 150,
        "persons": 400,
        "deals": 300,
        "activities": 800,
        "products": 50,
        "leads": 100,
        "notes": 200,
        "files": 50,
        "mail_threads": 40,
        "users": 5,
    },
    "medium": {
        "organizations": 1500,
        "persons": 4000,
        "deals": 3000,
        "activities": 8000,
        "products": 500,
        "leads": 1000,
        "notes": 2000,
        "files": 500,
        "mail_threads": 200,
        "users": 10,
    },
    "large": {
        "organizations": 60000,
        "persons": 250000,
        "deals": 200000,
        "activities": 350000,
        "products": 5000,
        "leads": 50000,
        "notes": 70000,
        "files": 15000,
        "mail_threads": 1000,
        "users": 25,
    },
}

PIPELINES = {
    "Sales": ["Initial Contact", "Qualified", "Demo Scheduled", "Proposal Made", "Negotiation"],
    "Partnerships": ["Initial Contact", "Evaluation", "Contract"],
    "Renewals": ["Upcoming", "In Talks", "Renewed"],
}
ACTIVITY_TYPES = [
    ("Call", "call"),
    ("Meeting", "meeting"),
    ("Task", "task"),
    ("Deadline", "deadline"),
    ("Email", "email"),
    ("Lunch", "lunch"),
]
LEAD_LABELS = [("Hot", "red"), ("Warm", "yellow"), ("Cold", "blue")]
CURRENCIES = [("USD", "US Dollar", "$"), ("EUR", "Euro", "€"), ("GBP", "British Pound", "£")]
FIRST = [
    "Ann",
    "Ben",
    "Cara",
    "Dev",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivo",
    "Jo",
    "Kai",
    "Lena",
    "Max",
    "Nia",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
]
LAST = [
    "Smith",
    "Jones",
    "Garcia",
    "Kim",
    "Novak",
    "Berg",
    "Costa",
    "Ito",
    "Meyer",
    "Olsen",
    "Patel",
    "Rossi",
    "Sato",
    "Tamm",
    "Ueda",
    "Vidal",
]
COMPANY = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Aperture",
]
SUFFIX = ["Labs", "Systems", "Group", "Partners", "Works", "Analytics", "Foods", "Logistics"]
CITIES = [
    ("Tallinn", "Harju", "Estonia"),
    ("Berlin", "Berlin", "Germany"),
    ("Lisbon", "Lisboa", "Portugal"),
    ("Austin", "TX", "USA"),
    ("Osaka", "Osaka", "Japan"),
]
JOB_TITLES = ["CEO", "CTO", "Head of Sales", "Buyer", "Operations Manager", "Engineer"]
PROJECTS = 3  # the projects that some activities, notes and files refer to (1 to 3)

# Lists whose size follows another's: (counted from, records per record of it, at least).
# Deriving them keeps a company scaled by its main counts (`--counts`) in proportion.
DERIVED = {
    "call_logs": ("activities", 0.25, 6),
    "projects": ("deals", 0.1, 8),
    "tasks": ("projects", 4, 24),
}
# Reference data of projects, goals, permissions and leads (see `extras.py`).
BOARDS = ["Delivery", "Onboarding", "Customer Success", "Internal", "Partnerships", "Support"]
PHASES = ["Planning", "In progress", "Review", "Done"]
ROLES = ["Sales", "Account Management", "Customer Success", "Marketing", "Support", "Partners"]
LEAD_SOURCES = [
    "Manually created",
    "Deal",
    "Web forms",
    "Prospector",
    "Leadbooster",
    "Live chat",
    "Import",
    "Website visitors",
    "Workflow automation",
    "API",
]
CALL_OUTCOMES = ["connected", "no_answer", "left_message", "left_voicemail", "wrong_number", "busy"]

# Custom fields of every type, per entity that has them: (name, field_type, options).
CUSTOM_FIELDS = {
    "deals": [
        ("Deal Source", "enum", ["Inbound", "Outbound", "Referral", "Event"]),
        ("Competitors", "set", ["Salesforce", "HubSpot", "Zoho", "None"]),
        ("Budget", "monetary", None),
        ("Contract Period", "daterange", None),
        ("Win Probability Note", "text", None),
        ("Seats", "double", None),
        ("Decision Date", "date", None),
        ("Kickoff Time", "time", None),
    ],
    "persons": [
        ("Lead Score", "double", None),
        ("Preferred Language", "enum", ["English", "German", "French", "Spanish"]),
        ("Interests", "set", ["Analytics", "CRM", "Automation", "Security"]),
        ("Home Address", "address", None),
        ("LinkedIn Profile", "varchar", None),
        ("Birthday Reminder", "date", None),
    ],
    "organizations": [
        ("Industry Segment", "enum", ["SaaS", "Retail", "Finance", "Health"]),
        ("Annual Budget", "monetary", None),
        ("HQ Address", "address", None),
        ("Tax Number", "varchar", None),
        ("Tier", "set", ["Gold", "Silver", "Bronze"]),
    ],
    "products": [
        ("SKU Family", "varchar", None),
        ("Weight Kg", "double", None),
        ("Launch Window", "daterange", None),
        ("Support Level", "enum", ["Basic", "Plus", "Premium"]),
    ],
}


@dataclass
class FieldDef:
    entity: str
    key: str
    name: str
    field_type: str
    options: list[dict] | None
    custom: bool
    add_ms: int
    update_ms: int
    id: int = 0
    description: str | None = None


def field_key(seed: int, entity: str, name: str) -> str:
    """Custom fields are keyed by a 40-character hex hash that never changes."""
    return hashlib.sha1(f"{seed}:{entity}:{name}".encode(), usedforsecurity=False).hexdigest()


def lead_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def between(rng: random.Random, low: int, high: int) -> int:
    """An integer in [low, high]: `randint` without its argument checks, which cost more than
    the draw on a path taken for every generated record."""
    return low + int(rng.random() * (high - low + 1))


def choose(rng: random.Random, options: Sequence[Any]) -> Any:
    """`rng.choice` for the same reason."""
    return options[int(rng.random() * len(options))]


def address(n: int) -> dict[str, str]:
    """An address object in the API's shape, drawn from a number (no random draws: records
    that carry one are made again on every read)."""
    city, region, country = CITIES[n % len(CITIES)]
    number = str(n % 97 + 1)
    return {
        "value": f"{number} Main St, {city}, {country}",
        "country": country,
        "admin_area_level_1": region,
        "admin_area_level_2": city,
        "locality": city,
        "sublocality": "Centre",
        "route": "Main St",
        "street_number": number,
        "postal_code": f"{10000 + n % 89999}",
    }


def resolve_counts(size: str, counts: dict[str, int] | None) -> dict[str, int]:
    """The size's counts, with those given instead; the counts of `DERIVED` lists follow the
    counts they derive from unless given too."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    resolved = {**SIZES[size], **(counts or {})}
    for entity, (base, ratio, least) in DERIVED.items():
        resolved.setdefault(entity, max(least, int(resolved[base] * ratio)))
    return resolved


class Generator:
    """Values for one record at a time from (seed, entity, index), so nothing needs to be
    generated twice and the same inputs give the same records."""

    def __init__(self, seed: int, now_ms: int) -> None:
        self.seed = seed
        self.now_ms = now_ms

    def rng(self, entity: str, index: int) -> random.Random:
        return random.Random(f"{self.seed}:{entity}:{index}")

    def times(self, rng: random.Random) -> tuple[int, int]:
        """add_time in the last two years, update_time between it and now (whole seconds)."""
        add = self.now_ms - between(rng, 2 * DAY_MS, 730 * DAY_MS)
        update = between(rng, add, self.now_ms - 60_000)
        return add // 1000 * 1000, update // 1000 * 1000

    def custom_value(self, rng: random.Random, fdef: FieldDef):
        kind = fdef.field_type
        if rng.random() < 0.2:
            return None
        if kind == "enum":
            return choose(rng, fdef.options or [{"id": None}])["id"]
        if kind == "set":
            opts = fdef.options or []
            return sorted(o["id"] for o in rng.sample(opts, between(rng, 1, min(2, len(opts)))))
        if kind == "monetary":
            return {
                "value": round(rng.uniform(1000, 90000), 2),
                "currency": choose(rng, "UEG") and choose(rng, ["USD", "EUR", "GBP"]),
            }
        if kind == "daterange":
            start = 2025 + between(rng, 0, 1)
            return {"value": f"{start}-0{between(rng, 1, 9)}-01", "until": f"{start + 1}-01-31"}
        if kind == "address":
            city = choose(rng, ["Tallinn", "Berlin", "Lisbon", "Austin", "Osaka"])
            return {
                "value": f"{between(rng, 1, 99)} Main St, {city}",
                "street_number": str(between(rng, 1, 99)),
                "route": "Main St",
                "locality": city,
                "country": "Somewhere",
                "postal_code": f"{between(rng, 10000, 99999)}",
            }
        if kind == "double":
            return round(rng.uniform(0, 100), 1)
        if kind == "date":
            return f"2026-{between(rng, 1, 12):02d}-{between(rng, 1, 28):02d}"
        if kind == "time":
            return f"{between(rng, 8, 17):02d}:{choose(rng, ['00', '30'])}:00"
        return f"{fdef.name} {between(rng, 1, 999)}"
