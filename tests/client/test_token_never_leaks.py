"""The token never appears in a log line, an exception message or a URL."""

import logging

import pytest

from pipedrive_client import PipedriveError

from .conftest import TOKEN
from .scripted_server import Reply


def test_token_only_travels_in_the_header(server, make_client) -> None:
    make_client().get("/api/v2/deals/1")
    (seen,) = server.seen
    assert seen.headers["x-api-token"] == TOKEN
    assert TOKEN not in str(seen.query)


def test_oauth_token_goes_in_the_bearer_header(server, make_client) -> None:
    make_client(api_token=None, oauth_access_token="oauth-abc-123").get("/api/v2/deals/1")
    (seen,) = server.seen
    assert seen.headers["Authorization"] == "Bearer oauth-abc-123"
    assert "x-api-token" not in {k.lower() for k in seen.headers}


def test_token_never_leaks_into_logs_or_errors(server, make_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    # The error body even echoes the token back: it must be redacted.
    server.on(
        "/api/v2/deals/1",
        Reply(503),
        Reply(429, {"success": False}, {"Retry-After": "0"}),
        Reply(200, b"not json"),
        Reply(400, {"success": False, "error": f"bad {TOKEN}"}),
    )
    server.on("/api/v2/deals/2", Reply(401, {"success": False, "error": "unauthorized access"}))
    server.on("/api/v2/persons", Reply(500))
    client = make_client()
    messages = []
    for call in (
        lambda: client.get("/api/v2/deals/1"),
        lambda: client.get("/api/v2/deals/2"),
        lambda: client.add_person(name="x"),
    ):
        with pytest.raises(PipedriveError) as caught:
            call()
        messages.append(str(caught.value))
        messages.append(repr(caught.value))
    client.log_summary()
    everything = "\n".join(messages + [r.getMessage() for r in caplog.records])
    assert "urllib3" in {r.name.split(".")[0] for r in caplog.records}  # DEBUG really captured
    assert TOKEN not in everything
    assert "***" in messages[0]


def test_debug_lines_of_the_http_library_carry_no_query(server, make_client, caplog) -> None:
    """A search's query holds a person's email address; urllib3 logged it at DEBUG."""
    server.handler_for(
        "/api/v2/persons/search", lambda q: Reply(body={"success": True, "data": {"items": []}})
    )
    with caplog.at_level("DEBUG"):
        make_client().search_persons("ann@acme.example")
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/api/v2/persons/search?..." in line for line in lines), lines
    assert not any("acme.example" in line for line in lines)
