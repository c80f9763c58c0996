"""Pure logic: times, settings, custom field naming. No server."""

from datetime import UTC, datetime

import pytest

from pipedrive_client import ConfigError
from tap_pipedrive import settings
from tap_pipedrive.custom_fields import name_columns, snake_case
from tap_pipedrive.times import rfc3339


@pytest.mark.parametrize(
    ("value", "millis", "expected"),
    [
        ("2026-03-01 12:00:05", False, "2026-03-01T12:00:05Z"),  # v1 notes, files
        ("2026-03-01T12:00:05Z", False, "2026-03-01T12:00:05Z"),  # v2
        ("2026-03-01T12:00:05.551Z", True, "2026-03-01T12:00:05.551Z"),  # leads
        ("2026-03-01T12:00:05.551Z", False, "2026-03-01T12:00:05Z"),  # cut, not rounded
        ("2026-03-01T14:00:05+02:00", False, "2026-03-01T12:00:05Z"),
        ("2026-03-01 12:00:05", True, "2026-03-01T12:00:05.000Z"),
        ("2026-03-01T12:00:05.5Z", True, "2026-03-01T12:00:05.500Z"),
        ("2026-03-01T12:00:05.123456Z", True, "2026-03-01T12:00:05.123Z"),
        (None, False, None),
        ("", False, None),
    ],
)
def test_times_become_fixed_width_rfc3339_utc(value, millis, expected) -> None:
    assert rfc3339(value, millis) == expected


def test_string_order_of_normalised_times_is_time_order() -> None:
    raw = ["2026-03-01 09:00:00", "2026-03-01T09:00:00.5Z", "2026-03-01T10:00:00Z"]
    assert sorted(rfc3339(t, True) for t in raw) == [rfc3339(t, True) for t in raw]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"anchor_date": "2025-02-03"}, "2025-02-03T00:00:00Z"),
        ({"anchor_date": "2025-02-03T04:05:06+01:00"}, "2025-02-03T03:05:06Z"),
        ({"start_date": "2025-02-03T04:05:06Z"}, "2025-02-03T04:05:06Z"),
        ({"anchor_date": "2025-02-03", "start_date": "2020-01-01"}, "2025-02-03T00:00:00Z"),
        ({}, "2025-06-15T00:00:00Z"),
    ],
)
def test_anchor_date(config, expected) -> None:
    today = datetime(2026, 6, 15, 13, 0, tzinfo=UTC)
    assert settings.anchor_date(config, today=today) == expected


@pytest.mark.parametrize("name", ["anchor_date", "start_date"])
def test_a_bad_anchor_date_names_the_setting(name) -> None:
    with pytest.raises(ConfigError, match=f"^{name} 'soon' is not a date"):
        settings.anchor_date({name: "soon"})


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, 300), (0, 0), (900, 900), ("120", 120), ("90s", 90), ("5m", 300), ("2 minutes", 120)],
)
def test_lookback_window_in_seconds_or_minutes(value, seconds) -> None:
    config = {} if value is None else {"lookback_window": value}
    assert settings.lookback_seconds(config) == seconds


@pytest.mark.parametrize("value", [-5, "soon", "5 parsecs", True, 1.5])
def test_a_bad_lookback_window_names_the_setting(value) -> None:
    with pytest.raises(ConfigError, match=r"^lookback_window"):
        settings.lookback_seconds({"lookback_window": value})


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({"company_domain": "acme"}, "api_token"),
        ({"api_token": "x"}, "company_domain"),
        ({"api_token": "x", "company_domain": "a.b/c"}, "company_domain"),
        ({"api_token": "x", "company_domain": "acme", "plan": "gold"}, "plan"),
        ({"api_token": "x", "company_domain": "acme", "custom_field_names": "x"}, "custom_field"),
        ({"api_token": "x", "api_url": "ftp://127.0.0.1"}, "api_url"),
    ],
)
def test_settings_validation_names_the_setting(config, setting) -> None:
    with pytest.raises(ConfigError) as info:
        settings.validate(config)
    message = str(info.value)
    assert setting in message
    assert "\n" not in message


def test_valid_settings_give_the_client_config() -> None:
    config = settings.validate({"api_token": "t0ken", "company_domain": "Acme", "plan": "growth"})
    assert config.base_url == "https://acme.pipedrive.com"
    assert config.burst_limit == 40
    assert "t0ken" not in repr(config)


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("Deal Source", "deal_source"),
        ("  ARR (EUR) ", "arr_eur"),
        ("contractPeriod", "contract_period"),
        ("2nd contact", "field_2nd_contact"),
        ("Größe", "grosse"),
        ("Café Crème", "cafe_creme"),
        ("???", ""),
        ("x" * 80, "x" * 48),
    ],
)
def test_snake_case(name, column) -> None:
    assert snake_case(name) == column


KEY_A = "a" * 40
KEY_B = "b" * 40
KEY_C = "c" * 40


def _definitions():
    return [
        {"field_code": "title", "field_name": "Title", "is_custom_field": False},
        {
            "field_code": KEY_A,
            "field_name": "Deal Source",
            "field_type": "enum",
            "is_custom_field": True,
            "options": [{"id": 1, "label": "Inbound"}, {"id": 2, "label": "Outbound"}],
        },
        {"field_code": KEY_B, "field_name": "deal source", "field_type": "varchar"},
        {"field_code": KEY_C, "field_name": "Title", "field_type": "set", "is_custom_field": True},
    ]


def test_readable_columns_are_collision_safe_and_keep_the_key() -> None:
    definitions = _definitions()
    definitions[2]["is_custom_field"] = True
    planned = name_columns(definitions, reserved={"title", "id"}, mode="readable")
    assert [p.column for p in planned] == [
        "deal_source",
        f"deal_source_{KEY_B[:8]}",
        "title_cccccccc",
    ]
    for p in planned:
        schema = p.schema()
        assert p.key in schema[p.column]["description"]


def test_enum_and_set_values_carry_labels() -> None:
    (enum,) = name_columns(_definitions()[:2], reserved=set(), mode="readable")
    assert enum.columns(2) == {"deal_source": 2, "deal_source_label": "Outbound"}
    assert enum.columns({"id": 1, "label": "x"}) == {
        "deal_source": 1,
        "deal_source_label": "Inbound",
    }
    assert enum.columns(None) == {"deal_source": None, "deal_source_label": None}
    assert set(enum.schema()) == {"deal_source", "deal_source_label"}


def test_a_name_without_letters_falls_back_to_the_key() -> None:
    definitions = [{"field_code": KEY_A, "field_name": "Бюджет", "field_type": "double"}]
    definitions[0]["is_custom_field"] = True
    (planned,) = name_columns(definitions, set(), "readable")
    assert planned.column == f"field_{KEY_A[:8]}"


def test_keys_mode_and_pinned_columns() -> None:
    (keyed,) = name_columns(_definitions()[:2], reserved=set(), mode="keys")
    assert keyed.column == KEY_A
    (pinned,) = name_columns(_definitions()[:2], set(), "readable", pinned={KEY_A: "lead_source"})
    assert pinned.column == "lead_source"
    assert set(pinned.schema()) == {"lead_source", "lead_source_label"}


def test_monetary_and_ranges_flatten() -> None:
    definitions = [
        {
            "field_code": KEY_A,
            "field_name": "Budget",
            "field_type": "monetary",
            "is_custom_field": True,
        },
        {
            "field_code": KEY_B,
            "field_name": "Term",
            "field_type": "daterange",
            "is_custom_field": True,
        },
    ]
    budget, term = name_columns(definitions, set(), "readable")
    assert budget.columns({"value": "12.5", "currency": "EUR"}) == {
        "budget": 12.5,
        "budget_currency": "EUR",
    }
    assert term.columns({"value": "2026-01-01", "until": "2026-12-31"}) == {
        "term": "2026-01-01",
        "term_until": "2026-12-31",
    }
