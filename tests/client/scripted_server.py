"""A tiny real HTTP server that answers from a script, for exact failure sequences
(a 503 then a 200, a Retry-After as an HTTP date) that a realistic sandbox only makes at random.
It records every request with its arrival time so tests count from the server's side."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"success": True, "data": []})
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "normal"  # normal | cutoff | reset | raw


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    body: bytes


def max_in_window(times: list[float], window: float = 2.0) -> int:
    """The most requests that arrived within any `window` seconds."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class ScriptedServer:
    def __init__(self) -> None:
        self.script: dict[str, deque[Reply]] = defaultdict(deque)
        self.default: dict[str, Any] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def on(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to `path` with `replies`, in order."""
        self.script[path].extend(replies)

    def handler_for(self, path: str, fn) -> None:
        """Answer every request to `path` with fn(query) -> Reply (after scripted replies)."""
        self.default[path] = fn

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def max_in_window(self, window: float = 2.0) -> int:
        return max_in_window([s.at for s in self.seen], window)

    def _next_reply(self, path: str, query: dict[str, str]) -> Reply:
        with self._lock:
            if self.script[path]:
                return self.script[path].popleft()
        if path in self.default:
            return self.default[path](query)
        return Reply()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = dict(parse_qsl(parts.query))
                with server._lock:
                    server.seen.append(
                        Seen(
                            self.command,
                            parts.path,
                            query,
                            dict(self.headers),
                            time.monotonic(),
                            body,
                        )
                    )
                reply = server._next_reply(parts.path, query)
                if reply.mode == "reset":
                    self.close_connection = True
                    self.connection.close()
                    return
                raw = (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                )
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                if reply.mode == "cutoff":
                    self.wfile.write(raw[: len(raw) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.close()
                    return
                self.wfile.write(raw)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815

        return Handler
