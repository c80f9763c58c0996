"""A full sync through every fault the sandbox injects ends with exactly the record set of a
clean sync: the same ids, each at the same update time."""

from __future__ import annotations

import pytest

from tests.tap.runner import config_for, run

from .warehouse import versions_of

# 5% 5xx, 1% connection resets, 2% cut-off bodies, 2% 429 without headers, bursts of 429 with
# Retry-After (three in a row) starting on 2% of requests, 2% `data: null`.
FAULTS = "5xx=0.05,reset=0.01,cutoff=0.02,429bare=0.02,429burst=0.02,nulldata=0.02,seed={seed}"
MAIN = ["deals", "persons", "organizations", "activities", "products", "notes", "files", "leads"]


QUICK_RETRIES = {"backoff_base_seconds": 0.01, "backoff_cap_seconds": 0.05}


@pytest.mark.parametrize(
    ("size", "seeds"),
    [
        pytest.param("small", [1, 2], id="short"),
        pytest.param("medium", [3, 4, 5, 6], id="soak", marks=pytest.mark.soak),
    ],
)
def test_full_sync_through_faults_and_429_bursts_is_exact(sandbox_factory, size, seeds) -> None:
    sb = sandbox_factory(size=size)
    expected = versions_of(run(config_for(sb)).messages)
    for seed in seeds:
        sb.set_faults(FAULTS.format(seed=seed))
        sb.reset_stats()
        out = run(config_for(sb, **QUICK_RETRIES))
        statuses = sb.stats()["status"]
        sb.set_faults(None)
        assert versions_of(out.messages) == expected, f"seed {seed}"
        for stream in MAIN:
            ids = out.ids(stream)
            assert len(ids) == len(set(ids)), f"seed {seed}: a {stream} record came twice"
        # the faults really happened
        assert statuses.get("503", 0) > 0
        assert statuses.get("429", 0) > 0
