"""The HTTP side: auth, rate limits, faults, accounting, and the `Sandbox` object that tests,
the demo and benchmarks start in-process. The `/_admin` endpoints are in `admin.py`."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from pipedrive_client.costs import is_search

from . import admin
from .app import Api, error
from .churn import Churn
from .clock import Clock
from .faults import FaultConfig, FaultInjector
from .history import ENTITIES as LOGGED_ENTITIES
from .limits import Limits
from .store import Store

DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - a well-known token for a local fake API
UNAUTHORIZED = {
    "success": False,
    "error": "unauthorized access",
    "errorCode": 401,
    "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
}
CDN_BLOCK_PAGE = (
    b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>"
    b"<h1>403 Forbidden</h1><p>Too many requests. Slow down.</p></body></html>"
)


class Sandbox:
    # How often the serving loop looks whether stop() was asked (socketserver's default): stop()
    # waits up to this long. The tests, which start hundreds of sandboxes, set it lower.
    stop_poll_seconds = 0.5

    def __init__(
        self,
        seed: int = 1,
        size: str = "small",
        counts: dict[str, int] | None = None,
        plan: str | int | None = None,
        faults: Any = None,
        token: str = DEFAULT_TOKEN,
        now: datetime | None = None,
        daily_budget: int | None = None,
        strict: bool = False,
    ) -> None:
        self.token = token
        self.clock = Clock(now)
        self.store = Store(seed, size, counts, self.clock)
        self.api = Api(self.store, strict=strict)
        self.limits = Limits(plan=plan, daily_budget=daily_budget)
        self.faults = FaultInjector(FaultConfig.parse(faults))
        self.churn = Churn(self.store, self.clock)
        self._log: list[dict] = []
        self._log_lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, port: int = 0, host: str = "127.0.0.1") -> Sandbox:
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            args=(self.stop_poll_seconds,),
            daemon=True,
            name="pipedrive-sandbox",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Sandbox:
        return self if self._httpd else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        assert self._httpd, "start() the sandbox first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- control and inspection ---------------------------------------------------------------

    def stats(self) -> dict:
        return self.limits.stats()

    def reset_stats(self) -> None:
        self.limits.reset_stats()
        with self._log_lock:
            self._log.clear()

    def request_log(self) -> list[dict]:
        with self._log_lock:
            return list(self._log)

    def set_faults(self, faults: Any) -> None:
        self.faults = FaultInjector(FaultConfig.parse(faults))

    @property
    def strict(self) -> bool:
        """Whether parameters are held to their schemas (see `Api.strict`)."""
        return self.api.strict

    def set_strict(self, strict: bool = True) -> None:
        self.api.strict = bool(strict)

    def set_plan(self, plan: str | int | None) -> None:
        self.limits.plan = plan

    def set_daily_budget(self, budget: int | None) -> None:
        self.limits.daily_budget = budget
        self.limits.tokens_today = 0

    def ids(
        self, entity: str, include_deleted: bool = False, include_archived: bool = True
    ) -> list:
        return self.store.live_ids(entity, include_deleted, include_archived)

    def count(
        self, entity: str, include_deleted: bool = False, include_archived: bool = True
    ) -> int:
        return len(self.ids(entity, include_deleted, include_archived))

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in sorted(self.store.tables.items())}

    def get(self, entity: str, rid: Any) -> dict | None:
        from . import app, render

        row = self.store.get(entity, rid)
        if row is None:
            return None
        renderer = app.V2_ENTITIES.get(entity) or {
            "leads": render.lead,
            "notes": render.note,
            "files": render.file,
        }.get(entity)
        return renderer(row) if renderer else dict(row)

    def changelog(self, entity: str, rid: int) -> list[dict]:
        """The change log of a deal, person or organization (`entity` "deals", "persons" or
        "organizations"), newest first, every page of what
        `GET /api/v1/{entity}/{id}/changelog` serves (not counted as requests). KeyError if
        there is no such record (never was, or purged)."""
        if entity not in LOGGED_ENTITIES:
            raise ValueError(f"entity must be one of {', '.join(LOGGED_ENTITIES)}")
        path, query, out = f"/api/v1/{entity}/{rid}/changelog", {"limit": "500"}, []
        while True:
            status, body = self.api.handle("GET", path, query, None)
            if status == 404:
                raise KeyError(rid)
            out += body["data"]
            cursor = body["additional_data"]["next_cursor"]
            if cursor is None:
                return out
            query = {**query, "cursor": cursor}

    # -- serving ------------------------------------------------------------------------------

    def serve(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple:
        """(status, headers, payload bytes, fault) for one API request."""
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        if path.startswith(("/v1/", "/v2/")):
            path = "/api" + path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self._log_lock:
            self._log.append({"method": method, "path": path, "query": query})
        endpoint = f"{method} {_template(path)}"
        if not self._authorised(headers, query):
            self.limits.account(method, path, endpoint, 401)
            return 401, {}, orjson.dumps(UNAUTHORIZED), None
        verdict = self.limits.check(endpoint, is_search(path))
        if verdict.status == 403:
            self.limits.account(method, path, endpoint, 403)
            return 403, {"Content-Type": "text/html"}, CDN_BLOCK_PAGE, None
        if verdict.status == 429:
            self.limits.account(method, path, endpoint, 429)
            message = "Daily token budget exhausted" if verdict.daily else "Request over limit"
            return 429, verdict.headers, orjson.dumps(error(429, message)[1]), None
        fault, latency = self.faults.draw()
        if latency:
            time.sleep(latency)
        if fault == "429bare":
            self.limits.account(method, path, endpoint, 429)
            return 429, {}, orjson.dumps(error(429, "Request over limit")[1]), None
        if fault == "429burst":
            self.limits.account(method, path, endpoint, 429)
            headers = {**verdict.headers, "Retry-After": "1", "x-ratelimit-remaining": "0"}
            return 429, headers, orjson.dumps(error(429, "Request over limit")[1]), None
        if fault == "5xx":
            self.limits.account(method, path, endpoint, 503)
            return 503, verdict.headers, orjson.dumps(error(503, "Service unavailable")[1]), None
        working = time.perf_counter()
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            status, data = error(400, "Request body is not valid JSON")
        else:
            status, data = self.api.handle(
                method, path, query, payload, agent=headers.get("User-Agent")
            )
        if fault == "nulldata" and status == 200 and method == "GET":
            data = {"success": True, "data": None}
        answer = orjson.dumps(data)
        # The server's own time per answer, apart from injected latency: what a client waits
        # for on top of the network in a benchmark.
        self.limits.account(method, path, endpoint, status, time.perf_counter() - working)
        if fault == "nonjson":
            return (
                502,
                {"Content-Type": "text/html"},
                b"<html><body>Bad gateway</body></html>",
                None,
            )
        return status, verdict.headers, answer, fault

    def _authorised(self, headers: Any, query: dict) -> bool:
        given = headers.get("x-api-token") or query.get("api_token")
        bearer = headers.get("Authorization", "")
        if bearer.startswith("Bearer "):
            given = bearer[7:]
        return given == self.token


def _template(path: str) -> str:
    """Group ids out of endpoint names for the per-endpoint counters."""
    out = []
    for part in path.split("/"):
        if part.isdigit() or (len(part) == 36 and part.count("-") == 4):
            out.append("{id}")
        else:
            out.append(part)
    return "/".join(out)


def _handler_for(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "pipedrive-sandbox"

        def log_message(self, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes; without this, Nagle's algorithm and
            # the client's delayed ACK add tens of milliseconds to every keep-alive request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, headers: dict, payload: bytes, cut: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2] if cut else payload)
            if cut:
                self.wfile.flush()
                self.close_connection = True

        def _dispatch(self) -> None:
            body = self._read_body()
            if self.path.startswith("/_admin/"):
                status, payload = admin.handle(sandbox, self.command, self.path, body)
                self._send(status, {}, payload)
                return
            status, headers, payload, fault = sandbox.serve(
                self.command, self.path, self.headers, body
            )
            if fault == "reset":
                self.close_connection = True
                self.connection.close()
                return
            self._send(status, dict(headers), payload, cut=fault == "cutoff")

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch  # noqa: N815

    return Handler
