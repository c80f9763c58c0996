"""The Singer SDK's standard tap tests, against a tiny sandbox."""

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from pipedrive_sandbox import Sandbox
from tap_pipedrive.tap import TapPipedrive

from .runner import config_for

# The standard suite is built at import time, so its sandbox is too (a daemon thread that ends
# with the test session).
_SANDBOX = Sandbox(seed=3, size="tiny").start()
# The sandbox has no plan: paced as tests/tap/runner.config_for does, not at the lowest plan's
# 20 requests per 2 s (the suite reads every stream, change logs too: 20 s of waiting).
_CONFIG = config_for(_SANDBOX)
# The standard tests read every stream, so select the ones deselected by default too
# (mailbox, deal products): their records are then checked against their schemas as well.
_CATALOG = TapPipedrive(config=_CONFIG).catalog_dict
for _entry in _CATALOG["streams"]:
    for _meta in _entry["metadata"]:
        if _meta["breadcrumb"] == []:
            _meta["metadata"]["selected"] = True

TestTapPipedrive = get_tap_test_class(
    tap_class=TapPipedrive,
    config=_CONFIG,
    catalog=_CATALOG,
    suite_config=SuiteConfig(max_records_limit=50),
)
