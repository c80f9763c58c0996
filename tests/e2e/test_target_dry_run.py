"""A dry run of the email write-back under real Meltano moves no bookmark: the target emits no
STATE, so Meltano stores none, and the real run that follows reads the same messages."""

from __future__ import annotations

import subprocess

import pytest

from pipedrive_sandbox import Sandbox
from pipedrive_sandbox.meltano_project import environment, meltano

from .conftest import UNPACED


@pytest.fixture(scope="module")
def project(tmp_path_factory, meltano_installed):
    tmp = tmp_path_factory.mktemp("meltano-dry-run")
    sandbox = Sandbox(seed=5, size="tiny").start()
    env = environment(tmp, sandbox, **UNPACED)
    yield {"env": env, "sandbox": sandbox}
    sandbox.stop()


def run(project: dict, *args: str, **env: str) -> subprocess.CompletedProcess:
    return meltano({**project["env"], **env}, *args)


def test_a_dry_run_under_meltano_moves_no_bookmark(project) -> None:
    sb = project["sandbox"]
    sb.reset_stats()
    dry = run(project, "run", "tap-emails", "target-pipedrive", TARGET_PIPEDRIVE_DRY_RUN="true")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert '"op": "create_activity"' in dry.stderr  # the intended writes
    assert all(r["method"] == "GET" for r in sb.request_log())
    assert "tap-emails-to-target-pipedrive" not in run(project, "state", "list").stdout
    # the real run then stores the bookmark: the check above is one that can fail
    real = run(project, "run", "tap-emails", "target-pipedrive")
    assert real.returncode == 0, real.stderr[-3000:]
    assert "tap-emails-to-target-pipedrive" in run(project, "state", "list").stdout
    assert any(r["method"] == "POST" for r in sb.request_log())
