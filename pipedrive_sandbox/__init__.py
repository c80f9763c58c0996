"""pipedrive-sandbox: a local Pipedrive API (v1 + v2) with generated data, rate limits and
injectable faults, for tests, the demo and benchmarks."""

from .faults import FaultConfig
from .server import DEFAULT_TOKEN, Sandbox

__all__ = ["DEFAULT_TOKEN", "FaultConfig", "Sandbox"]
