"""A custom field renamed in Pipedrive since the last run is named in a warning, old and new,
with what happens to its column; the state keeps this run's names for the next."""

from __future__ import annotations

import logging

import pytest
import requests

from tap_pipedrive.custom_fields import NAMES_STATE_KEY
from tests.tap.runner import catalog_selecting, config_for, run


def custom_deal_field(sb) -> dict:
    answer = requests.get(
        f"{sb.api_url}/api/v2/dealFields", headers={"x-api-token": sb.token}, timeout=10
    )
    return next(f for f in answer.json()["data"] if f["is_custom_field"])


def rename(sb, key: str, name: str) -> None:
    answer = requests.patch(
        f"{sb.api_url}/api/v2/dealFields/{key}",
        headers={"x-api-token": sb.token},
        json={"field_name": name},
        timeout=10,
    )
    assert answer.status_code == 200


def renamed_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "was renamed in Pipedrive" in r.getMessage()]


@pytest.fixture
def deals_only(sandbox):
    def sync(state=None, **settings):
        config = config_for(sandbox, **settings)
        return run(config, state=state, catalog=catalog_selecting(config, {"deals"}))

    return sync


def test_a_renamed_field_is_named_old_and_new_and_gets_its_new_column(
    sandbox, deals_only, caplog
) -> None:
    field = custom_deal_field(sandbox)
    key, old = field["field_code"], field["field_name"]
    first = deals_only()
    assert first.state["bookmarks"]["deals"][NAMES_STATE_KEY][key] == [old, "competitors"]
    rename(sandbox, key, "Main Rivals")

    with caplog.at_level(logging.WARNING):
        second = deals_only(state=first.state)
    assert renamed_warnings(caplog) == [
        f"deals: custom field '{old}' was renamed in Pipedrive to 'Main Rivals' since the last "
        f"run (key {key}); its values now go to a new column 'main_rivals' and 'competitors' "
        f'keeps the earlier rows (pin the field in custom_field_columns, {{"{key}": '
        '"competitors"}, to keep one column).'
    ]
    assert all("main_rivals" in r and "competitors" not in r for r in second.records["deals"])
    assert second.state["bookmarks"]["deals"][NAMES_STATE_KEY][key] == [
        "Main Rivals",
        "main_rivals",
    ]

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        deals_only(state=second.state)
    assert renamed_warnings(caplog) == []  # said once, for the run that met it


def test_a_pinned_field_keeps_its_column_and_the_warning_says_so(
    sandbox, deals_only, caplog
) -> None:
    field = custom_deal_field(sandbox)
    key, old = field["field_code"], field["field_name"]
    pinned = {"custom_field_columns": {key: "rivals"}}
    first = deals_only(**pinned)
    rename(sandbox, key, "Main Rivals")

    with caplog.at_level(logging.WARNING):
        second = deals_only(state=first.state, **pinned)
    assert renamed_warnings(caplog) == [
        f"deals: custom field '{old}' was renamed in Pipedrive to 'Main Rivals' since the last "
        f"run (key {key}); its column stays 'rivals'."
    ]
    assert all("rivals" in r and "main_rivals" not in r for r in second.records["deals"])


def test_a_first_run_warns_of_nothing(sandbox, deals_only, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        deals_only()
    assert renamed_warnings(caplog) == []
