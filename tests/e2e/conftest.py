"""What the end-to-end tests share: one installation of meltano.yml's plugins per session (they
all run Meltano in the repository's project, so its .meltano is one for all), and the pace the
plugins may keep against a sandbox without a plan."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pipedrive_sandbox.meltano_project import environment, install

# The sandboxes here run without a plan: the plugins need not pace at the lowest plan's 20
# requests per 2 s (as tests/tap/runner.config_for and tests/target/feed.py set it).
UNPACED = {
    "TAP_PIPEDRIVE_MAX_REQUESTS_PER_2S": "400",
    "TARGET_PIPEDRIVE_MAX_REQUESTS_PER_2S": "400",
}


@pytest.fixture(scope="session")
def meltano_installed(tmp_path_factory) -> None:
    """Every plugin in meltano.yml, installed once for all the modules here."""
    tmp = tmp_path_factory.mktemp("meltano-install")
    install(environment(tmp, SimpleNamespace(api_url="http://127.0.0.1:9", token="unused")))
