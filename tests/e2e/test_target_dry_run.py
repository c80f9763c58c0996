"""A dry run of the email write-back under real Meltano moves no bookmark: the target emits no
STATE, so Meltano stores none, and the real run that follows reads the same messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipedrive_sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).parent / "meltano")
# Installed by an earlier Meltano test or run; a fresh checkout (CI) installs them here.
PLUGINS = (
    ROOT / ".meltano" / "extractors" / "tap-emails",
    ROOT / ".meltano" / "loaders" / "target-pipedrive",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("meltano-dry-run")
    sandbox = Sandbox(seed=5, size="tiny").start()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp}/meltano.db",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_ENVIRONMENT": "dev",
        "TARGET_PIPEDRIVE_API_URL": sandbox.api_url,
        "TARGET_PIPEDRIVE_API_TOKEN": sandbox.token,
        "TARGET_PIPEDRIVE_LEDGER": str(tmp / "ledger.db"),
    }
    if not all(path.exists() for path in PLUGINS):
        install = subprocess.run(
            [MELTANO, "install", "tap-emails", "target-pipedrive"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert install.returncode == 0, install.stderr[-3000:]
    yield {"env": env, "sandbox": sandbox}
    sandbox.stop()


def meltano(project: dict, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MELTANO, *args],
        cwd=ROOT,
        env={**project["env"], **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_dry_run_under_meltano_moves_no_bookmark(project) -> None:
    sb = project["sandbox"]
    sb.reset_stats()
    dry = meltano(project, "run", "tap-emails", "target-pipedrive", TARGET_PIPEDRIVE_DRY_RUN="true")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert '"op": "create_activity"' in dry.stderr  # the intended writes
    assert all(r["method"] == "GET" for r in sb.request_log())
    assert "tap-emails-to-target-pipedrive" not in meltano(project, "state", "list").stdout
    # the real run then stores the bookmark: the check above is one that can fail
    real = meltano(project, "run", "tap-emails", "target-pipedrive")
    assert real.returncode == 0, real.stderr[-3000:]
    assert "tap-emails-to-target-pipedrive" in meltano(project, "state", "list").stdout
    assert any(r["method"] == "POST" for r in sb.request_log())
