"""Meltano in the repository's project, for the end-to-end tests and the pipeline benchmark
(benchmarks/pipeline.py): an environment with its own system database, pointed at a sandbox,
and one way to run a Meltano command in it. ROOT is the source checkout this package lives in
(an editable install), where meltano.yml is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MELTANO = str(Path(sys.executable).parent / "meltano")


def environment(tmp: Path, sandbox: Any, **extra: str) -> dict[str, str]:
    """Meltano's environment: the dev environment, a system database of its own, the target
    writing to `sandbox` with a ledger in `tmp`, plus `extra`."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp}/meltano.db",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_ENVIRONMENT": "dev",
        "TARGET_PIPEDRIVE_API_URL": sandbox.api_url,
        "TARGET_PIPEDRIVE_API_TOKEN": sandbox.token,
        "TARGET_PIPEDRIVE_LEDGER": str(tmp / "ledger.db"),
        **extra,
    }


def meltano(env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (the venv's own meltano, with our arguments)
        [MELTANO, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def install(env: dict[str, str], *plugins: str) -> None:
    result = meltano(env, "install", *plugins, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
