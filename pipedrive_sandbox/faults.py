"""Injectable faults, seeded so that a run is repeatable: the API's bad days on demand."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields

KINDS = ("5xx", "reset", "cutoff", "nonjson", "429bare", "429burst", "nulldata")
# A 429 burst answers this many requests in a row with 429 and Retry-After, as when another
# client spends the same token's budget.
BURST_LENGTH = 3


@dataclass
class FaultConfig:
    """Shares (0..1) of requests that get each fault, plus latency in seconds."""

    share_5xx: float = 0.0
    reset: float = 0.0
    cutoff: float = 0.0
    nonjson: float = 0.0
    bare_429: float = 0.0
    burst_429: float = 0.0
    nulldata: float = 0.0
    latency: float = 0.0
    jitter: float = 0.0
    seed: int = 1

    @classmethod
    def parse(cls, spec: str | dict | FaultConfig | None) -> FaultConfig | None:
        """From '5xx=0.05,reset=0.01,latency=0.1' or a dict with the same names."""
        if spec is None or isinstance(spec, FaultConfig):
            return spec
        if isinstance(spec, str):
            spec = dict(part.split("=", 1) for part in spec.split(",") if part.strip())
        alias = {"5xx": "share_5xx", "429bare": "bare_429", "429burst": "burst_429"}
        known = {f.name for f in fields(cls)}
        values = {}
        for key, value in spec.items():
            name = alias.get(key, key)
            if name not in known:
                raise ValueError(f"unknown fault '{key}': use {', '.join(KINDS)}, latency, jitter")
            values[name] = int(value) if name == "seed" else float(value)
        return cls(**values)


class FaultInjector:
    def __init__(self, config: FaultConfig | None) -> None:
        self.config = config
        self._rng = random.Random(config.seed if config else 1)
        self._lock = threading.Lock()
        self._burst_left = 0

    def draw(self) -> tuple[str | None, float]:
        """The fault for the next request (or None) and the latency to add."""
        c = self.config
        if c is None:
            return None, 0.0
        with self._lock:
            latency = c.latency + (self._rng.uniform(0, c.jitter) if c.jitter else 0.0)
            roll = self._rng.random()
            if self._burst_left:
                self._burst_left -= 1
                return "429burst", latency
        edge = 0.0
        for kind, share in (
            ("5xx", c.share_5xx),
            ("reset", c.reset),
            ("cutoff", c.cutoff),
            ("nonjson", c.nonjson),
            ("429bare", c.bare_429),
            ("429burst", c.burst_429),
            ("nulldata", c.nulldata),
        ):
            edge += share
            if roll < edge:
                if kind == "429burst":
                    with self._lock:
                        self._burst_left = BURST_LENGTH - 1
                return kind, latency
        return None, latency
