import pytest

from pipedrive_client import ClientConfig, ConfigError

TOKEN = "tok-config-test"


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("acme", "https://acme.pipedrive.com"),
        ("Acme-Sales", "https://acme-sales.pipedrive.com"),
        ("acme.pipedrive.com", "https://acme.pipedrive.com"),
    ],
)
def test_company_domain_builds_the_base_url(domain: str, expected: str) -> None:
    assert ClientConfig(api_token=TOKEN, company_domain=domain).base_url == expected


@pytest.mark.parametrize(
    "domain",
    ["https://acme", "acme/x", "acme:443", "evil.com#", "acme.evil.com", "a@b", "", "-acme"],
)
def test_a_domain_that_could_send_the_token_elsewhere_is_refused(domain: str) -> None:
    with pytest.raises(ConfigError, match="company_domain"):
        ClientConfig(api_token=TOKEN, company_domain=domain)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765",
        "http://localhost:1",
        "http://[::1]:80",
        "https://sandbox.example.com",
    ],
)
def test_api_url_accepts_https_and_loopback_http(url: str) -> None:
    assert ClientConfig(api_token=TOKEN, api_url=url).base_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5:8765",
        "http://example.com",
        "ftp://127.0.0.1",
        "https://user:pw@example.com",
        "127.0.0.1:8765",
    ],
)
def test_api_url_refuses_plain_http_elsewhere_and_odd_urls(url: str) -> None:
    with pytest.raises(ConfigError, match="api_url"):
        ClientConfig(api_token=TOKEN, api_url=url)


@pytest.mark.parametrize(
    "suffix", ["/api/v1", "/api/v2", "/api/v2/", "/api", ""], ids=["v1", "v2", "v2/", "api", "bare"]
)
def test_api_url_with_an_api_path_is_its_base(suffix: str) -> None:
    """Before: requests went to /api/v2/api/v2/deals."""
    config = ClientConfig(api_token=TOKEN, api_url="https://acme.pipedrive.com" + suffix)
    assert config.base_url == "https://acme.pipedrive.com"


def test_missing_token_and_domain_name_the_setting() -> None:
    with pytest.raises(ConfigError, match="api_token is missing"):
        ClientConfig(company_domain="acme")
    with pytest.raises(ConfigError, match="company_domain is missing"):
        ClientConfig(api_token=TOKEN)


def test_plan_sets_the_burst_limit_and_unknown_plans_are_refused() -> None:
    assert ClientConfig(api_token=TOKEN, company_domain="a", plan="Growth").burst_limit == 40
    assert ClientConfig(api_token=TOKEN, company_domain="a", max_requests_per_2s=7).burst_limit == 7
    with pytest.raises(ConfigError, match="plan 'gold'"):
        ClientConfig(api_token=TOKEN, company_domain="a", plan="gold")


def test_the_token_is_not_in_the_config_repr() -> None:
    assert TOKEN not in repr(ClientConfig(api_token=TOKEN, company_domain="acme"))


def test_from_settings_ignores_other_plugins_settings() -> None:
    config = ClientConfig.from_settings(
        {"api_token": TOKEN, "company_domain": "acme", "anchor_date": "2025-01-01", "plan": None}
    )
    assert config.base_url == "https://acme.pipedrive.com"
