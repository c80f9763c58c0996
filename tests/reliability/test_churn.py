"""A sync while the sandbox updates, deletes and archives records (and puts many on one second
across a page boundary), then one incremental run: nothing is lost."""

from __future__ import annotations

import random
import threading

import pytest

from tests.tap.runner import config_for, run

from .warehouse import versions_of

ENTITIES = ["deals", "persons", "organizations", "activities", "notes", "leads"]


def _churn(sb, stop: threading.Event, seed: int, deleted_deals: list) -> None:
    rng = random.Random(seed)
    rounds = 0
    while not stop.wait(0.02):
        rounds += 1
        entity = rng.choice(ENTITIES)
        action = rng.choice(["update", "update", "delete", "archive", "create"])
        if action == "archive" and entity in ("deals", "leads"):
            sb.churn.archive(entity, n=2)
        elif action == "delete" and entity != "leads":
            gone = sb.churn.delete(entity, n=1)
            if entity == "deals":
                deleted_deals.extend(gone)
        elif action == "create":
            sb.churn.create(entity, n=2)
        else:
            sb.churn.update(entity, n=3)
        if rounds == 10:
            # More records on one second than a page holds.
            sb.churn.tie("activities", 600)


@pytest.mark.usefixtures("eager_overlap")
@pytest.mark.parametrize(
    ("size", "seed"),
    [
        pytest.param("medium", 1, id="short"),
        pytest.param("medium", 2, id="soak", marks=pytest.mark.soak),
    ],
)
def test_sync_during_churn_then_one_incremental_run_loses_nothing(
    sandbox_factory, size, seed
) -> None:
    sb = sandbox_factory(size=size, faults="latency=0.01")
    config = config_for(sb)
    deleted_deals: list = []
    stop = threading.Event()
    worker = threading.Thread(target=_churn, args=(sb, stop, seed, deleted_deals))
    worker.start()
    try:
        first = run(config)
    finally:
        stop.set()
        worker.join()
    second = run(config, state=first.state)
    got = versions_of(first.messages + second.messages)
    # What is there now, read from scratch once the churn has stopped.
    now = versions_of(run(config).messages)
    for stream, records in now.items():
        missing = {k: t for k, t in records.items() if got.get(stream, {}).get(k) != t}
        assert not missing, f"{stream}: {len(missing)} record version(s) lost"
    assert deleted_deals
    last = {}
    for out in (first, second):
        for deal in out.records["deals"]:
            last[deal["id"]] = deal
    assert all(last[d]["_sdc_deleted_at"] for d in deleted_deals)
