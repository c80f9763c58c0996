"""Token cost of every operation, from the `x-token-cost` of the official OpenAPI description.

`token_costs.json` maps "METHOD /api/vN/template" to the cost; it was extracted from
juhokoskela/pipedrive-go `openapi/upstream/v1.yaml` and `v2.yaml` (2026-08-20).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

# Unknown operations are charged like a v1 list, the most common expensive call, so accounting
# errs on the side of caution.
UNKNOWN_OPERATION_COST = 20


def _compile() -> dict[str, list[tuple[re.Pattern[str], int]]]:
    raw = json.loads(resources.files(__package__).joinpath("token_costs.json").read_text())
    table: dict[str, list[tuple[re.Pattern[str], int, int]]] = {}
    for key, cost in raw.items():
        method, template = key.split(" ", 1)
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        table.setdefault(method, []).append((pattern, cost, template.count("{")))
    # Literal templates win over parameterised ones: /deals/archived before /deals/{id}.
    return {
        m: [(p, c) for p, c, _ in sorted(rows, key=lambda r: r[2])] for m, rows in table.items()
    }


_TABLE = _compile()


def normalise_path(path: str) -> str:
    """`/v1/x` (the legacy prefix some clients use) and `/api/v1/x` are the same operation."""
    return "/api" + path if path.startswith(("/v1/", "/v2/")) else path


@lru_cache(maxsize=4096)
def token_cost(method: str, path: str) -> int:
    path = normalise_path(path)
    for pattern, cost in _TABLE.get(method.upper(), ()):
        if pattern.match(path):
            return cost
    return UNKNOWN_OPERATION_COST


def is_search(path: str) -> bool:
    """Search endpoints have their own, lower burst limit."""
    return path.rstrip("/").endswith("/search") or "/itemSearch" in path
