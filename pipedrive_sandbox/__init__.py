"""pipedrive-sandbox: a local Pipedrive API (v1 + v2) with generated data, rate limits and
injectable faults, for tests, the demo and benchmarks.

Its dependencies come with the `sandbox` extra; the server is imported on first use, so that
`pipedrive-sandbox` without the extra says so in one line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .faults import FaultConfig

if TYPE_CHECKING:
    from .server import DEFAULT_TOKEN, Sandbox

__all__ = ["DEFAULT_TOKEN", "FaultConfig", "Sandbox"]

EXTRA_MODULES = frozenset({"orjson"})  # what the `sandbox` extra installs (pyproject.toml)
NEEDS_EXTRA = (
    "pipedrive-sandbox needs the sandbox extra: pip install 'pipedrive-connectors[sandbox]'"
)


def __getattr__(name: str) -> Any:
    if name not in ("DEFAULT_TOKEN", "Sandbox"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from . import server
    except ModuleNotFoundError as exc:
        if exc.name not in EXTRA_MODULES:
            raise
        raise ModuleNotFoundError(NEEDS_EXTRA, name=exc.name) from exc
    return getattr(server, name)
