"""Dry run: every intended write as one JSON line, and nothing sent."""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any, TextIO


class DryRun:
    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stderr
        self._ids = itertools.count(1)
        self.operations: list[dict[str, Any]] = []

    def intend(self, operation: str, **details: Any) -> str:
        """Record an intended write; return a placeholder id for the object it would make."""
        placeholder = f"dry-run-{next(self._ids)}"
        entry = {"op": operation, "placeholder_id": placeholder, **details}
        self.operations.append(entry)
        self._out.write(json.dumps(entry, default=str) + "\n")
        return placeholder
