"""One client thread's connection to the service, and its judgement of every answer."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.load.chaos import Outages, dependency_of
from bench.load.config import HOST, REQUEST_TIMEOUT
from bench.load.contract import ContractError, check_error, need
from bench.load.report import Stats

#: A 503 inside an outage window is retried as a person would: after Retry-After, but capped
#: (the service asks for 30 s; a load of one minute cannot wait that long) and a few times only.
RETRY_CAP = 2.0
RETRIES = 8


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
    outcome: str  # ok, refused, unavailable (a 503 inside an outage window) or error
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class Client:
    """One thread's connection to the service and its judgement of every answer."""

    def __init__(self, port: int, stats: Stats, outages: Outages | None = None) -> None:
        self.port = port
        self.stats = stats
        self.outages = outages  # --chaos: the windows inside which a 503 is accepted
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
        replay = replay and bool(key)
        if self.outages is not None and method != "GET" and not key:
            # Under --chaos every write carries a key, so that its retry after a 503 is safe
            # where the API takes keys (elsewhere the header is ignored).
            key = f"chaos-{uuid.uuid4().hex}"
        for attempt in range(RETRIES + 1):
            start = time.perf_counter()
            sent = time.monotonic()
            try:
                status, headers, data = self._send(method, path, user, body, key)
            except (OSError, http.client.HTTPException) as exc:
                self.stats.record(kind, time.perf_counter() - start, "error")
                self.stats.detail(kind, f"{method} {path}: {type(exc).__name__}: {exc}")
                return Reply(0, None, {}, b"", "error")
            elapsed = time.perf_counter() - start
            if status == 503 and self.outages is not None:
                reply = self._judge_503(kind, method, path, status, headers, data, sent)
                self.stats.record(kind, elapsed, reply.outcome)
                if reply.outcome == "error":
                    return reply
                if attempt == RETRIES:
                    self.stats.error(kind, f"{method} {path}: still 503 after {RETRIES} retries")
                    reply.outcome = "error"
                    return reply
                time.sleep(min(float(headers["retry-after"]), RETRY_CAP))
                continue
            break
        reply = self._judge(
            kind, method, path, body, status, headers, data, ok, allowed, check, raw
        )
        self.stats.record(kind, elapsed, reply.outcome, reply.reason)
        if replay and key and reply.outcome != "error" and reply.reason != "stale":
            self._replay(kind, method, path, user, body, key, reply)
        return reply

    def _judge_503(
        self,
        kind: str,
        method: str,
        path: str,
        status: int,
        headers: dict[str, str],
        data: bytes,
        sent: float,
    ) -> Reply:
        """A 503 is honest only with Retry-After, api.md's shape, and inside an outage window of
        the dependency its message names."""
        assert self.outages is not None
        answered = time.monotonic()
        parsed: Any = None
        try:
            retry_after = headers.get("retry-after", "")
            need(retry_after.isdigit() and int(retry_after) > 0, f"Retry-After {retry_after!r}")
            ctype = headers.get("content-type", "")
            need(ctype.startswith("application/json"), f"content type {ctype!r}")
            parsed = json.loads(data)
            check_error(parsed, status)
            dependency = dependency_of(parsed["message"])
            window = self.outages.accept_503(dependency, sent, answered)
            need(
                window is not None,
                f"503 ({dependency or 'no dependency named'}) outside every outage window "
                f"(sent at +{self.outages.rel(sent):.2f} s, answered at "
                f"+{self.outages.rel(answered):.2f} s)",
            )
            return Reply(status, parsed, headers, data, "unavailable")
        except (ContractError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self.stats.detail(
                kind, f"{method} {path} → {status} {data[:600]!r}: {type(exc).__name__}: {exc}"
            )
            return Reply(status, parsed, headers, data, "error")

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
