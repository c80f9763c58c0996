"""Shared fixtures: a local Pipedrive sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipedrive_sandbox import Sandbox

# A sandbox's stop() waits for its serving loop's next look (0.5 s by default): most tests start
# and stop one or more, so the loop looks every 50 ms here (in-process sandboxes only).
Sandbox.stop_poll_seconds = 0.05


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A small, deterministic company without limits or faults."""
    with Sandbox(seed=1, size="tiny").start() as sb:
        yield sb


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with any Sandbox arguments; all are stopped at teardown."""
    started: list[Sandbox] = []

    def start(**kwargs: Any) -> Sandbox:
        sb = Sandbox(**{"seed": 1, "size": "tiny", **kwargs}).start()
        started.append(sb)
        return sb

    yield start
    for sb in started:
        sb.stop()


@pytest.fixture
def eager_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large lists read in time windows cut whenever they can (tap_pipedrive/windows.py), and
    streams read ahead however fast the network (overlap.py), also in a tap run as a command:
    the no-loss tests hold with windows as with one chain."""
    from tap_pipedrive.overlap import EAGER_ENV

    monkeypatch.setenv(EAGER_ENV, "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Soak runs and slow forms are long: only on demand (`pytest -m soak`, `pytest -m slow`);
    the default run, CI's, leaves them out."""
    wanted = config.getoption("markexpr") or ""
    for marker in ("soak", "slow"):
        if marker in wanted:
            continue
        left_out = [item for item in items if marker in item.keywords]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if marker not in item.keywords]
