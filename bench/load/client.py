"""One client thread's connection to the service, and its judgement of every answer."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.load.config import HOST, REQUEST_TIMEOUT
from bench.load.contract import ContractError, check_error, need
from bench.load.report import Stats


@dataclass
class User:
    email: str
    role: str
    token: str = ""
    id: int = 0
    city_id: int | None = None


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    data: bytes
    outcome: str  # ok, refused or error
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class Client:
    """One thread's connection to the service and its judgement of every answer."""

    def __init__(self, port: int, stats: Stats) -> None:
        self.port = port
        self.stats = stats
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _send(
        self, method: str, path: str, user: User | None, body: Any, key: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if user is not None:
            headers["Authorization"] = f"Bearer {user.token}"
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if key:
            headers["Idempotency-Key"] = key
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except BaseException:
            self.close()
            raise
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def call(
        self,
        kind: str,
        method: str,
        path: str,
        user: User | None,
        body: Any = None,
        *,
        ok: Iterable[int] = (200,),
        refusals: Iterable[str] = (),
        check: Callable[[Any, dict[str, str]], None] | None = None,
        key: str | None = None,
        replay: bool = False,
        raw: bool = False,
    ) -> Reply:
        ok = tuple(ok)
        allowed = set(refusals) | ({"stale"} if method != "GET" else set())
        start = time.perf_counter()
        try:
            status, headers, data = self._send(method, path, user, body, key)
        except (OSError, http.client.HTTPException) as exc:
            self.stats.record(kind, time.perf_counter() - start, "error")
            self.stats.detail(kind, f"{method} {path}: {type(exc).__name__}: {exc}")
            return Reply(0, None, {}, b"", "error")
        elapsed = time.perf_counter() - start
        reply = self._judge(
            kind, method, path, body, status, headers, data, ok, allowed, check, raw
        )
        self.stats.record(kind, elapsed, reply.outcome, reply.reason)
        if replay and key and reply.outcome != "error" and reply.reason != "stale":
            self._replay(kind, method, path, user, body, key, reply)
        return reply

    def _judge(
        self,
        kind: str,
        method: str,
        path: str,
        body: Any,
        status: int,
        headers: dict[str, str],
        data: bytes,
        ok: tuple[int, ...],
        allowed: set[str],
        check: Callable[[Any, dict[str, str]], None] | None,
        raw: bool,
    ) -> Reply:
        parsed: Any = None
        try:
            need(status < 500, f"server error {status}")
            if raw and status in ok:
                if check:
                    check(data, headers)
                return Reply(status, None, headers, data, "ok")
            if status != 204:
                ctype = headers.get("content-type", "")
                need(ctype.startswith("application/json"), f"content type {ctype!r}")
                parsed = json.loads(data)
            if status in ok:
                if check:
                    check(parsed, headers)
                return Reply(status, parsed, headers, data, "ok")
            check_error(parsed, status)
            reason = parsed.get("reason")
            if status == 409 and reason in allowed:
                return Reply(status, parsed, headers, data, "refused", reason)
            raise ContractError(f"unexpected {status} {reason or ''}".strip())
        except (ContractError, ValueError, KeyError, TypeError, AttributeError) as exc:
            sent = json.dumps(body)[:400] if body is not None else ""
            self.stats.detail(
                kind,
                f"{method} {path} {sent} → {status} {data[:600]!r}: {type(exc).__name__}: {exc}",
            )
            return Reply(status, parsed, headers, data, "error")

    def _replay(
        self,
        kind: str,
        method: str,
        path: str,
        user: User | None,
        body: Any,
        key: str,
        first: Reply,
    ) -> None:
        """A client's retry with the same Idempotency-Key: the same answer, nothing done twice."""
        kind = f"{kind} (retry)"
        start = time.perf_counter()
        try:
            status, headers, data = self._send(method, path, user, body, key)
        except (OSError, http.client.HTTPException) as exc:
            self.stats.record(kind, time.perf_counter() - start, "error")
            self.stats.detail(kind, f"{method} {path}: {type(exc).__name__}: {exc}")
            return
        elapsed = time.perf_counter() - start
        try:
            need(status == first.status, f"retry answered {status}, first {first.status}")
            need(json.loads(data) == first.body, "retry answered another body")
            need(headers.get("idempotent-replayed") == "true", "retry not marked as replayed")
            self.stats.record(kind, elapsed, first.outcome, first.reason)
        except (ContractError, ValueError) as exc:
            self.stats.record(kind, elapsed, "error")
            self.stats.detail(kind, f"{method} {path} → {status} {data[:300]!r}: {exc}")
