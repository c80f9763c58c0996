from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipedrive_client import ClientConfig, PipedriveClient

from .scripted_server import ScriptedServer

TOKEN = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def make_client(server: ScriptedServer):
    clients: list[PipedriveClient] = []

    def make(**settings) -> PipedriveClient:
        defaults = {
            "api_token": TOKEN,
            "api_url": server.url,
            "max_requests_per_2s": 100,
            "backoff_base_seconds": 0.01,
            "backoff_cap_seconds": 0.05,
        }
        client = PipedriveClient(ClientConfig(**{**defaults, **settings}))
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()
