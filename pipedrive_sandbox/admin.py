"""The `/_admin` endpoints: how tests, the demo, the benchmarks and users drive a running sandbox
over HTTP (stats, request log, faults, strict mode, plan and budget, churn)."""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from .churn import Churn


class Controls(Protocol):
    """What the admin routes read and change on a sandbox (`server.Sandbox`)."""

    churn: Churn

    @property
    def strict(self) -> bool: ...

    def stats(self) -> dict: ...

    def counts(self) -> dict[str, int]: ...

    def request_log(self) -> list[dict]: ...

    def reset_stats(self) -> None: ...

    def set_faults(self, faults: Any) -> None: ...

    def set_strict(self, strict: bool = True) -> None: ...

    def set_plan(self, plan: str | int | None) -> None: ...

    def set_daily_budget(self, budget: int | None) -> None: ...


def handle(sandbox: Controls, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    """(status, JSON payload) for one `/_admin/...` request."""
    status, data = _route(sandbox, method, path, body)
    return status, data if isinstance(data, bytes) else orjson.dumps(data)


def _route(sandbox: Controls, method: str, path: str, body: bytes) -> tuple[int, Any]:
    route = path.split("?", maxsplit=1)[0].rstrip("/")
    data = orjson.loads(body) if body else None
    if method == "GET" and route == "/_admin/stats":
        return 200, sandbox.stats()
    if method == "GET" and route == "/_admin/counts":
        return 200, sandbox.counts()
    if method == "GET" and route == "/_admin/requests":
        return 200, b"\n".join(orjson.dumps(r) for r in sandbox.request_log())
    if method == "POST" and route == "/_admin/reset-stats":
        sandbox.reset_stats()
        return 200, {"ok": True}
    if method == "POST" and route == "/_admin/faults":
        sandbox.set_faults(data)
        return 200, {"ok": True}
    if method == "POST" and route == "/_admin/strict":
        sandbox.set_strict((data or {}).get("strict", True))
        return 200, {"ok": True, "strict": sandbox.strict}
    if method == "POST" and route == "/_admin/plan":
        data = data or {}
        if "plan" in data:
            sandbox.set_plan(data["plan"])
        if "daily_budget" in data:
            sandbox.set_daily_budget(data["daily_budget"])
        return 200, {"ok": True}
    if method == "POST" and route == "/_admin/churn":
        return _churn(sandbox.churn, data or {})
    return 404, {"error": f"no admin route {method} {route}"}


def _churn(churn: Churn, data: dict) -> tuple[int, Any]:
    action, entity = data.get("action"), data.get("entity")
    try:
        if action == "advance_clock":
            return 200, {"purged": churn.advance_clock(float(data.get("seconds", 0)))}
        if action == "create":
            return 200, {"ids": churn.create(entity, int(data.get("n", 1)))}
        if action == "tie":
            return 200, {"ids": churn.tie(entity, int(data.get("n", 1)), data.get("update_time"))}
        if action == "merge":
            return 200, {"ids": churn.merge(entity, data.get("ids"))}
        if action in ("update", "delete", "archive"):
            return 200, {"ids": getattr(churn, action)(entity, data.get("ids"), data.get("n"))}
    except (KeyError, ValueError) as exc:
        return 400, {"error": str(exc)}
    return 400, {"error": f"unknown churn action {action!r}"}
