"""Load test: the service under gunicorn on PostgreSQL and Redis, driven for five minutes.

1. Creates a fresh PostgreSQL database (``pearl_load_<random>``, dropped at the end) and uses
   Redis with an export queue of its own.
2. Migrates it (``flask --app wsgi db upgrade``) and seeds it through the service functions:
   40 cities with titles valid today (cap 5,000.00 EUR), one member each, 4 finance officers, an
   auditor, an admin, and exchange rates for this month and the next.
3. Starts gunicorn on 127.0.0.1 with the workers the README recommends (2 × cores) and one
   ``flask --app wsgi exports worker``.
4. Drives it for LOAD_SECONDS (default 300) from client threads on http.client connections:
   mostly reads (filtered, paginated lists, grants, histories, cities), and proposals,
   decisions, advances with four eyes, interim and final reports in EUR and DKK (accepted, some
   with an adjustment, some returned first), settlements and closures, a few terminations,
   comments, and the auditor's statements, polled until finished and downloaded.
5. Reports throughput, p50/p95/p99 latency (overall and per kind) and errors: a 5xx, a
   connection error, or an answer that breaks api.md (status, shape, money format, scope, the
   figures the domain defines). 409 refusals such as cap_exceeded, invalid_transition (two
   officers deciding one proposal) or stale are expected outcomes, counted apart.
6. Checks the money invariants in the database, that every export finished, and that
   ``flask --app wsgi audit verify`` exits 0.

    .venv/bin/python bench/load.py                 # 5 minutes
    .venv/bin/python bench/load.py --seconds 30    # a short run

Needs PostgreSQL (LOAD_DATABASE_URL, default postgresql+psycopg://root@127.0.0.1:5432/test),
Redis (LOAD_REDIS_URL, default redis://127.0.0.1:6379/0) and gunicorn
(``.venv/bin/pip install -e '.[server]'``). All traffic goes to 127.0.0.1.

Targets: 0 errors; invariants intact. Exit status 1 when one fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import json
import math
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

BASE_URL = os.environ.get("LOAD_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/0")
HOST = "127.0.0.1"
API = "/api/v1"
CITIES = 40
OFFICERS = 4
PASSWORD = "load-test-password"
RATES = {"DKK": "7.4604", "SEK": "11.2150"}
REQUEST_TIMEOUT = 30.0  # gunicorn's worker timeout is 30 s as well
EXPORT_EVERY = 40.0  # seconds between two statements of the auditor
EXPORT_WAIT = 180.0  # a statement not finished by then is an error
SETTLE_WAIT = 300.0  # after the load: exports still queued or running may finish meanwhile

MONEY = re.compile(r"^[0-9]{1,7}\.[0-9]{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
RATE = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,6})?$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
REASONS = {
    "invalid_transition",
    "cap_exceeded",
    "city_not_eligible",
    "four_eyes",
    "rate_missing",
    "over_approved",
    "money_owed",
    "not_ready",
    "idempotency_mismatch",
    "idempotency_in_progress",
    "stale",
    "title_overlap",
}
GRANT_STATES = (
    "draft",
    "submitted",
    "changes_requested",
    "approved",
    "rejected",
    "withdrawn",
    "disbursed",
    "interim_reported",
    "final_reported",
    "closed",
    "terminated",
)
GRANT_EVENTS = {
    "submit",
    "request_changes",
    "approve",
    "reject",
    "withdraw",
    "advance_paid",
    "interim_accepted",
    "final_accepted",
    "close",
    "terminate",
}
COMMITTED = ("approved", "disbursed", "interim_reported", "final_reported")
ENDED = ("closed", "terminated")
TARGET = {
    "submit": "submitted",
    "approve": "approved",
    "reject": "rejected",
    "request_changes": "changes_requested",
    "withdraw": "withdrawn",
    "close": "closed",
    "terminate": "terminated",
}
CATEGORIES = ("services", "venue", "materials", "equipment", "travel", "fees", "communication")
GRANT_KEYS = (
    "id",
    "city_id",
    "city_name",
    "title_year",
    "title",
    "summary",
    "start_date",
    "end_date",
    "state",
    "requested_amount",
    "approved_amount",
    "paid_amount",
    "recovered_amount",
    "budget_lines",
    "available_events",
    "reports_due",
    "created_at",
    "updated_at",
)
PAYOUT_KEYS = (
    "id",
    "grant_id",
    "kind",
    "amount",
    "state",
    "authorised_by",
    "authorised_at",
    "confirmed_by",
    "paid_on",
    "payment_reference",
)
REPORT_KEYS = ("id", "grant_id", "kind", "state", "narrative", "due_on", "submitted_at", "expenses")
EXPENSE_KEYS = (
    "id",
    "invoice_number",
    "invoice_date",
    "payment_date",
    "supplier",
    "description",
    "category",
    "currency",
    "amount",
    "vat_amount",
    "vat_recoverable",
    "rate",
    "amount_eur",
    "eligible_eur",
    "ineligible_reason",
    "attachments",
)
EXPORT_KEYS = (
    "id",
    "kind",
    "params",
    "status",
    "progress",
    "file_name",
    "size",
    "sha256",
    "error",
    "requested_at",
    "finished_at",
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def cents(text: str) -> int:
    whole, fraction = text.split(".")
    return int(whole) * 100 + int(fraction)


def money(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


def to_eur(amount: int, rate: str) -> int:
    """``amount / rate`` in cents, ROUND_HALF_UP (domain.md)."""
    return int((Decimal(amount) / Decimal(rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------------------------------------
# The contract of api.md, as far as a client can see it


class ContractError(Exception):
    """An answer that breaks api.md."""


def need(condition: Any, message: str) -> None:
    if not condition:
        raise ContractError(message)


def has_keys(obj: Any, names: Iterable[str], what: str) -> None:
    need(isinstance(obj, dict), f"{what} is not a JSON object")
    missing = [n for n in names if n not in obj]
    need(not missing, f"{what} lacks {missing}")


def is_money(value: Any, what: str, *, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    need(isinstance(value, str) and MONEY.fullmatch(value), f"{what} {value!r} is not money")


def check_error(body: Any, status: int) -> None:
    has_keys(body, ("code", "status", "message"), f"{status} body")
    need(body["code"] == status, f"error code {body['code']} ≠ HTTP status {status}")
    need(isinstance(body["message"], str) and body["message"], "error message missing")
    need("Traceback" not in json.dumps(body), "a stack trace in a response")
    if status == 409:
        need(body.get("reason") in REASONS, f"409 without a known reason: {body.get('reason')!r}")
    if status == 422:
        need(isinstance(body.get("errors"), dict), "422 without errors")


def check_grant(
    g: Any,
    *,
    grant_id: int | None = None,
    state: str | None = None,
    city_id: int | None = None,
    requested: int | None = None,
    approved: int | None = None,
    full: bool = True,
) -> None:
    has_keys(g, GRANT_KEYS, "grant")
    need(g["state"] in GRANT_STATES, f"unknown state {g['state']!r}")
    if grant_id is not None:
        need(g["id"] == grant_id, f"grant {g['id']} instead of {grant_id}")
    if state is not None:
        need(g["state"] == state, f"grant {g['id']} is {g['state']}, expected {state}")
    if city_id is not None:
        need(g["city_id"] == city_id, f"grant {g['id']} of city {g['city_id']}, not {city_id}")
    if not full:
        return
    for name in ("requested_amount", "paid_amount", "recovered_amount"):
        is_money(g[name], name)
    is_money(g["approved_amount"], "approved_amount", nullable=True)
    for name in ("start_date", "end_date"):
        need(DATE.fullmatch(str(g[name])), f"{name} {g[name]!r} is not a date")
    for name in ("created_at", "updated_at"):
        need(STAMP.fullmatch(str(g[name])), f"{name} {g[name]!r} is not a timestamp with zone")
    lines = g["budget_lines"]
    need(isinstance(lines, list), "budget_lines is not a list")
    for line in lines:
        has_keys(line, ("id", "category", "description", "amount"), "budget line")
        is_money(line["amount"], "budget line amount")
    total = sum(cents(line["amount"]) for line in lines)
    need(cents(g["requested_amount"]) == total, "requested_amount ≠ the sum of the budget lines")
    if requested is not None:
        need(cents(g["requested_amount"]) == requested, f"requested {g['requested_amount']}")
    if g["approved_amount"] is not None:
        need(
            cents(g["paid_amount"]) <= cents(g["approved_amount"]),
            f"paid {g['paid_amount']} > approved {g['approved_amount']}",
        )
    if approved is not None:
        need(g["approved_amount"] == money(approved), f"approved {g['approved_amount']}")
    need(
        isinstance(g["available_events"], list) and set(g["available_events"]) <= GRANT_EVENTS,
        f"available_events {g['available_events']!r}",
    )
    for due in g["reports_due"]:
        has_keys(due, ("kind", "due_on"), "reports_due item")
        need(due["kind"] in ("interim", "final") and DATE.fullmatch(due["due_on"]), "reports_due")


def check_page(body: Any, headers: dict[str, str], page: int, page_size: int) -> None:
    need(isinstance(body, list), "a list answer is not a JSON array")
    raw = headers.get("x-pagination")
    need(raw, "X-Pagination header missing")
    meta = json.loads(raw)
    has_keys(meta, ("total", "total_pages", "page", "page_size"), "X-Pagination")
    need(meta["page"] == page and meta["page_size"] == page_size, f"X-Pagination {meta}")
    need(len(body) <= page_size, f"{len(body)} items on a page of {page_size}")
    pages = math.ceil(meta["total"] / page_size)
    need(meta["total_pages"] == pages, f"X-Pagination {meta}: total_pages")
    # The count and the page are two statements: under READ COMMITTED a commit may fall between.


def check_payout(
    p: Any,
    *,
    kind: str | None = None,
    state: str | None = None,
    amount: int | None = None,
    grant_id: int | None = None,
    confirmed_by: int | None = None,
) -> None:
    has_keys(p, PAYOUT_KEYS, "payout")
    need(p["kind"] in ("advance", "balance", "recovery"), f"payout kind {p['kind']!r}")
    need(p["state"] in ("authorised", "paid", "cancelled"), f"payout state {p['state']!r}")
    is_money(p["amount"], "payout amount")
    need(STAMP.fullmatch(str(p["authorised_at"])), "authorised_at is not a timestamp")
    if kind is not None:
        need(p["kind"] == kind, f"payout kind {p['kind']}, expected {kind}")
    if state is not None:
        need(p["state"] == state, f"payout {p['state']}, expected {state}")
    if amount is not None:
        need(p["amount"] == money(amount), f"payout amount {p['amount']}, expected {money(amount)}")
    if grant_id is not None:
        need(p["grant_id"] == grant_id, "payout of another grant")
    if confirmed_by is not None:
        need(p["confirmed_by"] == confirmed_by, "confirmed_by is not the confirming officer")
        need(p["confirmed_by"] != p["authorised_by"], "confirmed by its authoriser (four eyes)")
        need(DATE.fullmatch(str(p["paid_on"])) and p["payment_reference"], "paid without date")


def check_report(r: Any, *, kind: str | None = None, state: str | None = None) -> None:
    has_keys(r, REPORT_KEYS, "report")
    need(r["state"] in ("draft", "submitted", "returned", "accepted"), f"report {r['state']!r}")
    if kind is not None:
        need(r["kind"] == kind, f"report kind {r['kind']}, expected {kind}")
    if state is not None:
        need(r["state"] == state, f"report {r['state']}, expected {state}")
    converted = r["state"] in ("submitted", "accepted")
    for e in r["expenses"]:
        has_keys(e, EXPENSE_KEYS, "expense line")
        is_money(e["amount"], "expense amount")
        need(isinstance(e["vat_amount"], str) and MONEY.fullmatch(e["vat_amount"]), "vat_amount")
        if not converted:
            continue
        need(isinstance(e["rate"], str) and RATE.fullmatch(e["rate"]), f"rate {e['rate']!r}")
        is_money(e["amount_eur"], "amount_eur")
        is_money(e["eligible_eur"], "eligible_eur")
        expected_rate = Decimal(RATES.get(e["currency"], "1"))
        need(Decimal(e["rate"]) == expected_rate, f"rate {e['rate']} of {e['currency']}")
        eur = to_eur(cents(e["amount"]), e["rate"])
        need(cents(e["amount_eur"]) == eur, f"{e['amount']} {e['currency']} → {e['amount_eur']}")
        if r["state"] == "submitted":
            vat = to_eur(cents(e["vat_amount"]), e["rate"]) if e["vat_recoverable"] else 0
            need(cents(e["eligible_eur"]) == eur - vat, f"eligible {e['eligible_eur']}")


def check_export(e: Any) -> None:
    has_keys(e, EXPORT_KEYS, "export")
    need(e["status"] in ("queued", "running", "finished", "failed"), f"status {e['status']!r}")
    need(isinstance(e["progress"], int) and 0 <= e["progress"] <= 100, "progress")
    if e["status"] == "finished":
        need(isinstance(e["size"], int) and e["size"] > 0, f"size {e['size']!r}")
        need(isinstance(e["sha256"], str) and HEX64.fullmatch(e["sha256"]), "sha256")
        need(e["progress"] == 100, "finished below 100 %")
    if e["status"] == "failed":
        raise ContractError(f"export {e['id']} failed: {e['error']}")


def check_history(events: Any, *, member: bool) -> None:
    need(isinstance(events, list), "history is not a list")
    last = 0
    for e in events:
        has_keys(e, ("at", "actor", "action", "from_state", "to_state", "comment", "data"), "event")
        has_keys(e["actor"], ("id", "email", "role"), "event actor")
        need(STAMP.fullmatch(str(e["at"])), f"event time {e['at']!r}")
        if "id" in e:
            need(e["id"] > last, "history is not oldest first")
            last = e["id"]
        if member:
            need(e["data"].get("visibility") != "internal", "a member sees an internal comment")


def check_city(c: Any, *, figures: bool) -> None:
    has_keys(c, ("id", "name", "country", "population", "is_capital", "titles"), "city")
    for t in c["titles"]:
        has_keys(t, ("id", "year", "valid_from", "valid_until", "cap", "committed"), "title")
        has_keys(t, ("paid", "available"), "title")
        if not figures:
            need(all(t[k] is None for k in ("cap", "committed", "paid", "available")), "figures")
            continue
        for name in ("cap", "committed", "paid", "available"):
            is_money(t[name], f"title {name}")
        cap, committed = cents(t["cap"]), cents(t["committed"])
        need(committed <= cap, f"title {t['id']}: committed {t['committed']} > cap {t['cap']}")
        need(cents(t["available"]) == cap - committed, f"title {t['id']}: available")


# ---------------------------------------------------------------------------------------------
# Measurements


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.refused: Counter[tuple[str, str]] = Counter()
        self.errors: Counter[str] = Counter()
        self.details: list[str] = []

    def record(self, kind: str, seconds: float, outcome: str, reason: str | None = None) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            if outcome == "refused":
                self.refused[(kind, reason or "?")] += 1
            elif outcome == "error":
                self.errors[kind] += 1

    def detail(self, kind: str, text: str) -> None:
        with self.lock:
            if len(self.details) < 40:
                self.details.append(f"{time.strftime('%H:%M:%S')} [{kind}] {text}")

    def error(self, kind: str, text: str) -> None:
        """An error outside a request (an export that never finished, a generator fault)."""
        with self.lock:
            self.errors[kind] += 1
        self.detail(kind, text)


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


# ---------------------------------------------------------------------------------------------
# What the generator knows about the grants (from the answers it got)


class Bag:
    """A set with O(1) random choice."""

    def __init__(self) -> None:
        self.items: list[int] = []
        self.pos: dict[int, int] = {}

    def add(self, item: int) -> None:
        if item not in self.pos:
            self.pos[item] = len(self.items)
            self.items.append(item)

    def discard(self, item: int) -> None:
        i = self.pos.pop(item, None)
        if i is None:
            return
        last = self.items.pop()
        if last != item:
            self.items[i] = last
            self.pos[last] = i

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class G:
    id: int
    city_id: int
    state: str
    requested: int
    approved: int | None = None
    updated: str = ""
    busy: bool = False
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)  # authorised, not yet confirmed


class World:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.grants: dict[int, G] = {}
        self.by_state: dict[str, Bag] = defaultdict(Bag)
        self.all: list[int] = []

    def add(self, body: dict[str, Any], *, busy: bool) -> G:
        g = G(
            id=body["id"],
            city_id=body["city_id"],
            state=body["state"],
            requested=cents(body["requested_amount"]),
            updated=body["updated_at"],
            busy=busy,
        )
        with self.lock:
            self.grants[g.id] = g
            self.by_state[g.state].add(g.id)
            self.all.append(g.id)
        return g

    def update(self, g: G, body: dict[str, Any]) -> None:
        """Take the grant's figures from an answer, unless a newer answer was taken already."""
        with self.lock:
            if dt.datetime.fromisoformat(body["updated_at"]) < dt.datetime.fromisoformat(g.updated):
                return
            g.updated = body["updated_at"]
            g.requested = cents(body["requested_amount"])
            approved = body["approved_amount"]
            g.approved = cents(approved) if approved else None
            if body["state"] != g.state:
                self.by_state[g.state].discard(g.id)
                g.state = body["state"]
                self.by_state[g.state].add(g.id)

    def pick(self, rnd: random.Random, states: Iterable[str], *, claim: bool = True) -> G | None:
        with self.lock:
            bags = [self.by_state[s] for s in states if len(self.by_state[s])]
            for _ in range(12):
                if not bags:
                    return None
                bag = rnd.choices(bags, weights=[len(b) for b in bags])[0]
                g = self.grants[bag.items[rnd.randrange(len(bag))]]
                if g.busy and claim:
                    continue
                if claim:
                    g.busy = True
                return g
            return None

    def release(self, g: G) -> None:
        with self.lock:
            g.busy = False

    def any(self, rnd: random.Random) -> G | None:
        with self.lock:
            return self.grants[rnd.choice(self.all)] if self.all else None


# ---------------------------------------------------------------------------------------------
# The load: client threads, each a stream of users' actions


@dataclass
class Ctx:
    port: int
    stats: Stats
    world: World
    members: dict[int, User]
    officers: list[User]
    auditor: User
    admin: User
    year: int
    end: float
    export_ids: list[int] = field(default_factory=list)


class Driver:
    MIX = (
        ("read_list", 40),
        ("read_grant", 35),
        ("read_history", 12),
        ("read_related", 15),
        ("read_cities", 12),
        ("read_rates", 3),
        ("read_me", 2),
        ("propose", 5),
        ("decide", 5),
        ("rework", 1.5),
        ("advance", 4),
        ("interim", 3.5),
        ("final", 3.5),
        ("settle", 3),
        ("terminate", 0.3),
        ("comment", 3),
    )

    def __init__(self, ctx: Ctx, seed: int, *, as_user: User | None = None) -> None:
        self.ctx = ctx
        self.as_user = as_user  # the auditor's thread reads as the auditor
        self.w = ctx.world
        self.rnd = random.Random(seed)
        self.c = Client(ctx.port, ctx.stats)
        self.city_ids = sorted(ctx.members)
        # Some Pearls are busier than others (Zipf-like): their titles meet the cap first.
        self.activity = [1 / rank**0.7 for rank in range(1, len(self.city_ids) + 1)]

    # -- helpers ----------------------------------------------------------------------------

    def officer(self, *, not_id: int | None = None) -> User:
        return self.rnd.choice([o for o in self.ctx.officers if o.id != not_id])

    def staff(self) -> User:
        if self.as_user is not None:
            return self.as_user
        x = self.rnd.random()
        if x < 0.7:
            return self.officer()
        return self.ctx.admin if x < 0.85 else self.ctx.auditor

    def member_reads(self, share: float) -> bool:
        return self.as_user is None and self.rnd.random() < share

    def key(self) -> str | None:
        return f"load-{uuid.uuid4().hex}" if self.rnd.random() < 0.3 else None

    def get_grant(self, g: G, user: User | None = None, state: str | None = None) -> Reply:
        user = user or self.officer()
        r = self.c.call(
            "GET /grants/{id}",
            "GET",
            f"{API}/grants/{g.id}",
            user,
            check=lambda b, h: check_grant(b, grant_id=g.id, city_id=g.city_id, state=state),
        )
        if r.ok:
            self.w.update(g, r.body)
        return r

    def fire(
        self,
        g: G,
        user: User,
        event: str,
        *,
        comment: str | None = None,
        approved: int | None = None,
        refusals: Iterable[str] = (),
    ) -> Reply:
        body: dict[str, Any] = {"event": event}
        if comment:
            body["comment"] = comment
        if approved is not None:
            body["approved_amount"] = money(approved)
        expect = approved if approved is not None else g.requested
        key = self.key()
        r = self.c.call(
            f"grant {event}",
            "POST",
            f"{API}/grants/{g.id}/transitions",
            user,
            body,
            refusals=refusals,
            key=key,
            replay=self.rnd.random() < 0.2,
            check=lambda b, h: check_grant(
                b,
                grant_id=g.id,
                state=TARGET[event],
                approved=expect if event == "approve" else None,
            ),
        )
        if r.ok:
            self.w.update(g, r.body)
        elif r.outcome == "refused":
            self.get_grant(g)
        return r

    def authorise(self, g: G, officer: User, kind: str, amount: int | None) -> dict | None:
        key = f"load-{uuid.uuid4().hex}"
        r = self.c.call(
            f"POST /grants/{{id}}/disbursements ({kind})",
            "POST",
            f"{API}/grants/{g.id}/disbursements",
            officer,
            {"kind": kind},
            ok=(201,),
            key=key,
            replay=self.rnd.random() < 0.1,
            check=lambda b, h: check_payout(
                b, kind=kind, state="authorised", amount=amount, grant_id=g.id
            ),
        )
        if not r.ok:
            return None
        payout = {"id": r.body["id"], "kind": kind, "by": officer.id}
        g.pending.append(payout)
        return payout

    def confirm(self, g: G, payout: dict[str, Any], officer: User) -> Reply:
        body = {
            "event": "confirm_paid",
            "paid_on": utc_today().isoformat(),
            "payment_reference": f"LOAD-{payout['id']}",
        }
        r = self.c.call(
            "payout confirm_paid",
            "POST",
            f"{API}/disbursements/{payout['id']}/transitions",
            officer,
            body,
            key=self.key(),
            replay=self.rnd.random() < 0.1,
            check=lambda b, h: check_payout(b, state="paid", confirmed_by=officer.id),
        )
        if r.ok:
            g.pending.remove(payout)
        return r

    def cancel(self, g: G, payout: dict[str, Any], officer: User) -> Reply:
        r = self.c.call(
            "payout cancel",
            "POST",
            f"{API}/disbursements/{payout['id']}/transitions",
            officer,
            {"event": "cancel", "comment": "Authorised in error."},
            check=lambda b, h: check_payout(b, state="cancelled"),
        )
        if r.ok:
            g.pending.remove(payout)
        return r

    def budget(self, total: int | None = None) -> list[dict[str, Any]]:
        rnd = self.rnd
        if total is None:
            amounts = [rnd.randint(100_00, 800_00) for _ in range(rnd.randint(1, 3))]
        else:
            first = total // 2 if total >= 2_00 and rnd.random() < 0.5 else total
            amounts = [a for a in (first, total - first) if a > 0]
        return [
            {
                "category": (cat := rnd.choice(CATEGORIES)),
                "description": f"{cat.capitalize()} for the pilot",
                "amount": money(a),
            }
            for a in amounts
        ]

    def expenses(self, g: G, share: tuple[float, float]) -> list[dict[str, Any]]:
        rnd = self.rnd
        total = max(3_00, int((g.approved or g.requested) * rnd.uniform(*share)))
        n = rnd.randint(1, 3)
        parts = [total // n] * (n - 1) + [total - total // n * (n - 1)]
        lines = []
        for i, eur in enumerate(parts, start=1):
            currency = rnd.choices(("EUR", "DKK", "SEK"), weights=(50, 42, 8))[0]
            amount = eur
            if currency != "EUR":
                amount = int(
                    (Decimal(eur) * Decimal(RATES[currency])).quantize(Decimal(1), ROUND_HALF_UP)
                )
            vat = amount // 5 if rnd.random() < 0.5 else 0
            day = (utc_today() - dt.timedelta(days=rnd.randint(0, 10))).isoformat()
            lines.append(
                {
                    "invoice_number": f"INV-{g.id}-{rnd.randint(1, 10**6)}-{i}",
                    "invoice_date": day,
                    "payment_date": day,
                    "supplier": rnd.choice(("Harbour Hall", "Print & Co", "Lantern Crew")),
                    "description": "Workshop costs",
                    "category": rnd.choice(CATEGORIES),
                    "currency": currency,
                    "amount": money(amount),
                    "vat_amount": money(vat),
                    "vat_recoverable": rnd.random() < 0.3,
                }
            )
        return lines

    # -- reads ------------------------------------------------------------------------------

    def read_list(self) -> bool:
        rnd = self.rnd
        member = None
        if self.member_reads(0.4):
            member = self.ctx.members[rnd.choice(self.city_ids)]
            user = member
        else:
            user = self.staff()
        page = rnd.choice((1, 1, 1, 2, 3))
        size = rnd.choice((10, 20, 20, 50, 100))
        query: dict[str, Any] = {"page": page, "page_size": size}
        if rnd.random() < 0.35:
            query["state"] = rnd.choice(GRANT_STATES)
        if member is None and rnd.random() < 0.2:
            query["city_id"] = rnd.choice(self.city_ids)
        if rnd.random() < 0.2:
            query["title_year"] = self.ctx.year
        city = member.city_id if member else query.get("city_id")

        def check(body: Any, headers: dict[str, str]) -> None:
            check_page(body, headers, page, size)
            for i, g in enumerate(body):
                check_grant(g, state=query.get("state"), city_id=city, full=i < 3)

        self.c.call("GET /grants", "GET", f"{API}/grants?{urlencode(query)}", user, check=check)
        return True

    def read_grant(self) -> bool:
        g = self.w.any(self.rnd)
        if g is None:
            return self.read_cities()
        x = self.rnd.random()
        if x < 0.05 and self.as_user is None:
            others = [c for c in self.city_ids if c != g.city_id]
            stranger = self.ctx.members[self.rnd.choice(others)]
            self.c.call(
                "GET /grants/{id} (outside scope)",
                "GET",
                f"{API}/grants/{g.id}",
                stranger,
                ok=(404,),
                check=lambda b, h: check_error(b, 404),
            )
            return True
        user = self.ctx.members[g.city_id] if self.member_reads(0.35) else self.staff()
        self.c.call(
            "GET /grants/{id}",
            "GET",
            f"{API}/grants/{g.id}",
            user,
            check=lambda b, h: check_grant(b, grant_id=g.id, city_id=g.city_id),
        )
        return True

    def read_history(self) -> bool:
        g = self.w.any(self.rnd)
        if g is None:
            return self.read_cities()
        member = self.member_reads(0.3)
        user = self.ctx.members[g.city_id] if member else self.staff()
        self.c.call(
            "GET /grants/{id}/history",
            "GET",
            f"{API}/grants/{g.id}/history",
            user,
            check=lambda b, h: check_history(b, member=member),
        )
        return True

    def read_related(self) -> bool:
        g = self.w.any(self.rnd)
        if g is None:
            return self.read_cities()
        member = self.member_reads(0.3)
        user = self.ctx.members[g.city_id] if member else self.staff()
        what = self.rnd.choice(("reports", "disbursements", "comments"))

        def check(body: Any, headers: dict[str, str]) -> None:
            need(isinstance(body, list), f"{what} is not a list")
            for item in body:
                need(item.get("grant_id") == g.id, f"{what} of another grant")
                if what == "reports":
                    check_report(item)
                elif what == "disbursements":
                    check_payout(item)
                else:
                    has_keys(item, ("id", "author", "body", "visibility", "created_at"), "comment")
                    if member:
                        need(item["visibility"] == "shared", "a member sees an internal comment")

        self.c.call(
            f"GET /grants/{{id}}/{what}", "GET", f"{API}/grants/{g.id}/{what}", user, check=check
        )
        return True

    def read_cities(self) -> bool:
        rnd = self.rnd
        member = self.member_reads(0.4)
        user = self.ctx.members[rnd.choice(self.city_ids)] if member else self.staff()

        def figures(city_id: int) -> bool:
            return not member or city_id == user.city_id

        if rnd.random() < 0.5:
            page, size = rnd.choice(((1, 20), (2, 20), (1, 50)))

            def check(body: Any, headers: dict[str, str]) -> None:
                check_page(body, headers, page, size)
                for c in body:
                    check_city(c, figures=figures(c["id"]))

            query = urlencode({"page": page, "page_size": size})
            self.c.call("GET /cities", "GET", f"{API}/cities?{query}", user, check=check)
        else:
            city = rnd.choice(self.city_ids)
            self.c.call(
                "GET /cities/{id}",
                "GET",
                f"{API}/cities/{city}",
                user,
                check=lambda b, h: check_city(b, figures=figures(city)),
            )
        return True

    def read_rates(self) -> bool:
        month = utc_today().strftime("%Y-%m")

        def check(body: Any, headers: dict[str, str]) -> None:
            need(isinstance(body, list), "rates are not a list")
            rates = {r["currency"]: r["rate"] for r in body}
            for cur, rate in RATES.items():
                need(Decimal(rates.get(cur, "0")) == Decimal(rate), f"rate of {cur}")

        self.c.call(
            "GET /exchange-rates",
            "GET",
            f"{API}/exchange-rates?month={month}",
            self.officer(),
            check=check,
        )
        return True

    def read_me(self) -> bool:
        user = self.ctx.members[self.rnd.choice(self.city_ids)]

        def check(body: Any, headers: dict[str, str]) -> None:
            has_keys(body, ("id", "email", "role", "city_id"), "user")
            need(body["id"] == user.id and body["city_id"] == user.city_id, "another user")
            need(not any("password" in k for k in body), "a password field in a user")

        self.c.call("GET /users/me", "GET", f"{API}/users/me", user, check=check)
        return True

    # -- a grant's life ---------------------------------------------------------------------

    def propose(self) -> bool:
        rnd = self.rnd
        city = rnd.choices(self.city_ids, self.activity)[0]
        member = self.ctx.members[city]
        today = utc_today()
        body = {
            "title": f"Pilot {rnd.randint(1, 10**6)}",
            "summary": "Story evenings in the harbour, with the library and the rowing club.",
            "start_date": (today - dt.timedelta(days=rnd.randint(0, 30))).isoformat(),
            "end_date": (today + dt.timedelta(days=rnd.randint(30, 240))).isoformat(),
            "budget_lines": self.budget(),
        }
        r = self.c.call(
            "POST /grants",
            "POST",
            f"{API}/grants",
            member,
            body,
            ok=(201,),
            check=lambda b, h: check_grant(b, state="draft", city_id=city),
        )
        if not r.ok:
            return True
        g = self.w.add(r.body, busy=True)
        try:
            if rnd.random() < 0.08:
                return True  # stays a draft for now
            r = self.fire(g, member, "submit", refusals=("cap_exceeded",))
            if r.reason == "cap_exceeded" and rnd.random() < 0.5:
                self.fire(g, member, "withdraw")
        finally:
            self.w.release(g)
        return True

    def decide(self) -> bool:
        # No claim: two officers may decide one proposal at once (invalid_transition expected).
        g = self.w.pick(self.rnd, ("submitted",), claim=False)
        if g is None:
            return False
        officer = self.officer()
        x = self.rnd.random()
        if x < 0.75:
            amount = None
            if self.rnd.random() < 0.2 and g.requested > 1_00:
                amount = self.rnd.randint(g.requested // 2, g.requested - 1)
            refusals = ("cap_exceeded", "invalid_transition")
            r = self.fire(g, officer, "approve", approved=amount, refusals=refusals)
            if r.reason == "cap_exceeded" and self.rnd.random() < 0.5:
                self.fire(
                    g,
                    officer,
                    "request_changes",
                    comment="Over the title's headroom: please reduce the budget.",
                    refusals=("invalid_transition",),
                )
        elif x < 0.88:
            self.fire(
                g,
                officer,
                "request_changes",
                comment="Please split the fees per workshop.",
                refusals=("invalid_transition",),
            )
        else:
            self.fire(
                g,
                officer,
                "reject",
                comment="Outside the action plan.",
                refusals=("invalid_transition",),
            )
        return True

    def rework(self) -> bool:
        g = self.w.pick(self.rnd, ("draft", "changes_requested"))
        if g is None:
            return False
        member = self.ctx.members[g.city_id]
        try:
            total = int(g.requested * self.rnd.uniform(0.5, 0.9))
            if self.rnd.random() < 0.15 or total < 20_00:
                self.fire(g, member, "withdraw")
                return True
            lines = self.budget(total)
            r = self.c.call(
                "PATCH /grants/{id}",
                "PATCH",
                f"{API}/grants/{g.id}",
                member,
                {"budget_lines": lines, "summary": "A smaller first season."},
                check=lambda b, h: check_grant(b, grant_id=g.id, state=g.state, requested=total),
            )
            if not r.ok:
                return True
            self.w.update(g, r.body)
            self.fire(g, member, "submit", refusals=("cap_exceeded",))
        finally:
            self.w.release(g)
        return True

    def advance(self) -> bool:
        g = self.w.pick(self.rnd, ("approved",))
        if g is None:
            return False
        try:
            pending = [p for p in g.pending if p["kind"] == "advance"]
            if pending:
                payout = pending[0]
            else:
                a = self.officer()
                payout = self.authorise(g, a, "advance", (g.approved or 0) // 2)
                if payout is None:
                    return True
                if self.rnd.random() < 0.03:
                    self.cancel(g, payout, self.officer())
                    return True
                if self.rnd.random() < 0.05:
                    self.c.call(
                        "payout confirm_paid (same officer)",
                        "POST",
                        f"{API}/disbursements/{payout['id']}/transitions",
                        a,
                        {
                            "event": "confirm_paid",
                            "paid_on": utc_today().isoformat(),
                            "payment_reference": "LOAD-SELF",
                        },
                        ok=(),
                        refusals=("four_eyes",),
                    )
            b = self.officer(not_id=payout["by"])
            if self.confirm(g, payout, b).ok:
                self.get_grant(g, b, state="disbursed")
        finally:
            self.w.release(g)
        return True

    def interim(self) -> bool:
        return self.report("interim")

    def final(self) -> bool:
        return self.report("final")

    def report(self, kind: str) -> bool:
        source = "disbursed" if kind == "interim" else "interim_reported"
        g = self.w.pick(self.rnd, (source,))
        if g is None:
            return False
        member = self.ctx.members[g.city_id]
        officer = self.officer()
        small = self.rnd.random() < 0.15
        share = (
            ((0.05, 0.2) if small else (0.3, 0.6))
            if kind == "interim"
            else ((0.02, 0.15) if small else (0.2, 0.7))
        )
        try:
            rep = g.reports.get(kind)
            if rep is None:
                body = {
                    "kind": kind,
                    "narrative": {
                        "activities": "Six story evenings, two workshops.",
                        "participants": "About 240 residents.",
                        "trust": "Neighbours met across the harbour.",
                    },
                    "expenses": self.expenses(g, share),
                }
                r = self.c.call(
                    "POST /grants/{id}/reports",
                    "POST",
                    f"{API}/grants/{g.id}/reports",
                    member,
                    body,
                    ok=(201,),
                    check=lambda b, h: check_report(b, kind=kind, state="draft"),
                )
                if not r.ok:
                    return True
                rep = g.reports[kind] = {"id": r.body["id"], "state": "draft", "lines": []}
            path = f"{API}/reports/{rep['id']}"
            if rep["state"] in ("draft", "returned") and not self._submit_report(member, rep):
                return True
            if rep["state"] == "submitted" and self.rnd.random() < 0.1:
                r = self.c.call(
                    "report return",
                    "POST",
                    f"{path}/transitions",
                    officer,
                    {"event": "return", "comment": "Add the invoice of the venue, please."},
                    key=self.key(),
                    check=lambda b, h: check_report(b, state="returned"),
                )
                if not r.ok:
                    return True
                rep["state"] = "returned"
                r = self.c.call(
                    "PATCH /reports/{id}",
                    "PATCH",
                    path,
                    member,
                    {"narrative": {"activities": "Six story evenings, two workshops, one fair."}},
                    check=lambda b, h: check_report(b, state="returned"),
                )
                if not r.ok or not self._submit_report(member, rep):
                    return True
            if rep["state"] != "submitted":
                return True
            body = {"event": "accept"}
            adjusted: dict[int, str] = {}
            lines = [e for e in rep["lines"] if cents(e["eligible_eur"]) > 1]
            if lines and self.rnd.random() < 0.25:
                line = self.rnd.choice(lines)
                eligible = cents(line["eligible_eur"])
                adjusted[line["id"]] = money(self.rnd.randint(0, eligible - 1))
                body["adjustments"] = [
                    {
                        "expense_id": line["id"],
                        "eligible_eur": adjusted[line["id"]],
                        "reason": "Part of the invoice is outside the pilot.",
                    }
                ]

            def check(b: Any, h: dict[str, str]) -> None:
                check_report(b, state="accepted")
                for e in b["expenses"]:
                    if e["id"] in adjusted:
                        need(e["eligible_eur"] == adjusted[e["id"]], "adjustment not applied")

            r = self.c.call(
                "report accept",
                "POST",
                f"{path}/transitions",
                officer,
                body,
                key=self.key(),
                check=check,
            )
            if r.ok:
                rep["state"] = "accepted"
                self.get_grant(g, officer, state=f"{kind}_reported")
            elif r.outcome == "refused":
                self.get_grant(g)
        finally:
            self.w.release(g)
        return True

    def _submit_report(self, member: User, rep: dict[str, Any]) -> bool:
        r = self.c.call(
            "report submit",
            "POST",
            f"{API}/reports/{rep['id']}/transitions",
            member,
            {"event": "submit"},
            key=self.key(),
            check=lambda b, h: check_report(b, state="submitted"),
        )
        if r.ok:
            rep["state"] = "submitted"
            rep["lines"] = r.body["expenses"]
        return r.ok

    def settle(self) -> bool:
        g = self.w.pick(self.rnd, ("final_reported",))
        if g is None:
            return False
        a = self.officer()
        try:
            for payout in list(g.pending):
                if not self.confirm(g, payout, self.officer(not_id=payout["by"])).ok:
                    return True
            r = self.get_grant(g, a, state="final_reported")
            if not r.ok:
                return True
            for kind, due in (("balance", "balance_due"), ("recovery", "recovery_due")):
                amount = cents(r.body[due])
                if amount > 0:
                    payout = self.authorise(g, a, kind, amount)
                    if payout is None:
                        return True
                    if not self.confirm(g, payout, self.officer(not_id=a.id)).ok:
                        return True
            r = self.fire(g, a, "close")
            if r.ok and (r.body["balance_due"], r.body["recovery_due"]) != ("0.00", "0.00"):
                self.ctx.stats.error("grant close", f"grant {g.id} closed owing: {r.body}")
        finally:
            self.w.release(g)
        return True

    def terminate(self) -> bool:
        g = self.w.pick(self.rnd, ("approved", "disbursed", "interim_reported"))
        if g is None:
            return False
        a = self.officer()
        try:
            for payout in list(g.pending):
                if not self.cancel(g, payout, self.officer()).ok:
                    return True
            r = self.fire(g, a, "terminate", comment="The venue burnt down; the pilot ends.")
            if r.ok and cents(r.body["recovery_due"]) > 0:
                payout = self.authorise(g, a, "recovery", cents(r.body["recovery_due"]))
                if payout is not None:
                    self.confirm(g, payout, self.officer(not_id=a.id))
        finally:
            self.w.release(g)
        return True

    def comment(self) -> bool:
        g = self.w.any(self.rnd)
        if g is None:
            return False
        x = self.rnd.random()
        if x < 0.5:
            user, visibility = self.ctx.members[g.city_id], "shared"
        elif x < 0.9:
            user, visibility = self.officer(), self.rnd.choice(("shared", "internal"))
        else:
            user, visibility = self.ctx.admin, "shared"
        text = f"Note {self.rnd.randint(1, 10**6)}: =SUM(A1) is text, not a formula."

        def check(b: Any, h: dict[str, str]) -> None:
            has_keys(b, ("id", "grant_id", "author", "body", "visibility", "created_at"), "comment")
            need(b["grant_id"] == g.id and b["body"] == text, "another comment")
            need(b["visibility"] == visibility and b["author"]["id"] == user.id, "comment")

        self.c.call(
            "POST /grants/{id}/comments",
            "POST",
            f"{API}/grants/{g.id}/comments",
            user,
            {"body": text, "visibility": visibility},
            ok=(201,),
            check=check,
        )
        return True

    # -- the loops --------------------------------------------------------------------------

    def step(self, action: str) -> None:
        flow = getattr(self, action)
        if not flow():
            self.read_grant()

    def loop(self) -> None:
        names = [n for n, _ in self.MIX]
        weights = [w for _, w in self.MIX]
        try:
            while time.monotonic() < self.ctx.end:
                action = self.rnd.choices(names, weights)[0]
                try:
                    self.step(action)
                except Exception:
                    self.ctx.stats.error("load generator", traceback.format_exc(limit=4))
        finally:
            self.c.close()

    def auditor_loop(self) -> None:
        """The auditor: reads, and now and then a statement, polled until it is finished."""
        next_export = time.monotonic() + 5
        reads = (
            self.read_list,
            self.read_list,
            self.read_grant,
            self.read_history,
            self.read_related,
            self.read_cities,
            self.read_exports,
        )
        try:
            while time.monotonic() < self.ctx.end:
                try:
                    if time.monotonic() >= next_export:
                        next_export = time.monotonic() + EXPORT_EVERY
                        self.export()
                    else:
                        self.rnd.choice(reads)()
                except Exception:
                    self.ctx.stats.error("load generator", traceback.format_exc(limit=4))
        finally:
            self.c.close()

    def read_exports(self) -> bool:
        def check(body: Any, headers: dict[str, str]) -> None:
            check_page(body, headers, 1, 20)
            for e in body:
                has_keys(e, EXPORT_KEYS, "export")

        self.c.call(
            "GET /exports", "GET", f"{API}/exports?page=1&page_size=20", self.staff(), check=check
        )
        return True

    def export(self) -> None:
        auditor = self.ctx.auditor
        x = self.rnd.random()
        g = self.w.any(self.rnd)
        if x < 0.7 or g is None:
            body: dict[str, Any] = {"kind": "programme_statement", "title_year": self.ctx.year}
        elif x < 0.85:
            body = {"kind": "city_statement", "city_id": g.city_id, "title_year": self.ctx.year}
        else:
            body = {"kind": "grant_statement", "grant_id": g.id}

        def requested(b: Any, h: dict[str, str]) -> None:
            check_export(b)
            need(b["kind"] == body["kind"], "export of another kind")
            need(urlsplit(h.get("location", "")).path == f"{API}/exports/{b['id']}", "Location")

        r = self.c.call(
            f"POST /exports ({body['kind']})",
            "POST",
            f"{API}/exports",
            auditor,
            body,
            ok=(202,),
            check=requested,
        )
        if not r.ok:
            return
        export_id = r.body["id"]
        self.ctx.export_ids.append(export_id)
        path = urlsplit(r.headers["location"]).path
        deadline = time.monotonic() + EXPORT_WAIT
        while True:
            r = self.c.call(
                "GET /exports/{id}", "GET", path, auditor, check=lambda b, h: check_export(b)
            )
            if not r.ok:
                return
            if r.body["status"] == "finished":
                break
            if time.monotonic() > deadline:
                self.ctx.stats.error("GET /exports/{id}", f"export {export_id} not finished")
                return
            if time.monotonic() > self.ctx.end + 5:
                return  # the load is over: the database check waits for it
            time.sleep(0.5)
        export = r.body

        def download(data: bytes, h: dict[str, str]) -> None:
            need(h.get("content-type", "").startswith(XLSX), "not an XLSX content type")
            need(h.get("content-disposition", "").startswith("attachment"), "not an attachment")
            need(len(data) == export["size"], "size differs from the export's")
            need(hashlib.sha256(data).hexdigest() == export["sha256"], "sha256 differs")
            need(data[:2] == b"PK", "not a zip container")

        self.c.call(
            "GET /exports/{id}/file", "GET", f"{path}/file", auditor, raw=True, check=download
        )


# ---------------------------------------------------------------------------------------------
# Setting up: database, seed, processes


def create_database() -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"pearl_load_{secrets.token_hex(4)}"
    admin = create_engine(BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(BASE_URL).set(database=name).render_as_string(hide_password=False), drop


def seed(url: str, secret: str) -> int:
    """Cities with titles valid today, their members, officers, an auditor, an admin, rates."""
    from grants import create_app
    from grants.cities.services import create_city, create_title
    from grants.extensions import db
    from grants.rates.schemas import parse_rate
    from grants.rates.services import set_rate
    from grants.users.services import create_user

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret, "REDIS_URL": None})
    today = utc_today()
    rnd = random.Random(7)
    with app.app_context():
        countries = app.config["ELIGIBLE_COUNTRIES"]
        for i in range(1, CITIES + 1):
            city = create_city(
                {
                    "name": f"Pearl {i:02d}",
                    "country": countries[i % len(countries)],
                    "population": rnd.randint(8_000, 120_000),
                    "is_capital": False,
                },
                actor=None,
            )
            create_title(
                city,
                {
                    "year": today.year,
                    "valid_from": today - dt.timedelta(days=120),
                    "valid_until": today + dt.timedelta(days=400),
                },
                actor=None,
            )
            create_user(
                {
                    "email": f"member{i:02d}@load.test",
                    "password": PASSWORD,
                    "role": "city_member",
                    "city_id": city.id,
                },
                actor=None,
            )
        staff = [(f"finance{k}@load.test", "finance_officer") for k in range(1, OFFICERS + 1)]
        staff += [("auditor@load.test", "auditor"), ("admin@load.test", "admin")]
        for email, role in staff:
            create_user({"email": email, "password": PASSWORD, "role": role}, actor=None)
        next_month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        for month in (today.strftime("%Y-%m"), next_month.strftime("%Y-%m")):
            for currency, rate in RATES.items():
                set_rate(month, currency, parse_rate(rate), actor=None)
        db.session.commit()
        db.engine.dispose()
    return today.year


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_healthy(port: int, procs: list[subprocess.Popen], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited early:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            body = response.read()
            conn.close()
            if response.status == 200 and json.loads(body).get("queue") == "ok":
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the service did not become healthy in 60 s:\n{log.read_text()[-3000:]}")


def sign_in(port: int, stats: Stats) -> tuple[dict[int, User], list[User], User, User]:
    client = Client(port, stats)
    users = [User(f"member{i:02d}@load.test", "city_member") for i in range(1, CITIES + 1)]
    users += [User(f"finance{k}@load.test", "finance_officer") for k in range(1, OFFICERS + 1)]
    users += [User("auditor@load.test", "auditor"), User("admin@load.test", "admin")]
    for user in users:
        r = client.call(
            "POST /auth/tokens",
            "POST",
            f"{API}/auth/tokens",
            None,
            {"email": user.email, "password": PASSWORD},
            ok=(201,),
            check=lambda b, h: has_keys(b, ("token", "expires_at", "user"), "token"),
        )
        if not r.ok:
            raise RuntimeError(f"sign-in of {user.email} failed: {stats.details[-1:]}")
        user.token = r.body["token"]
        user.id = r.body["user"]["id"]
        user.city_id = r.body["user"]["city_id"]
    client.close()
    members = {u.city_id: u for u in users if u.role == "city_member"}
    officers = [u for u in users if u.role == "finance_officer"]
    return members, officers, users[-2], users[-1]


def cpu_of(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each live process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def server_pids(master: int, url: str) -> tuple[list[int], list[int]]:
    """The gunicorn workers (children of the master) and the PostgreSQL backends of the run."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        children = []
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            backends = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :name "
                    "AND pid <> pg_backend_pid()"
                ),
                {"name": make_url(url).database},
            ).scalars()
            backends = list(backends)
    finally:
        engine.dispose()
    return [int(c) for c in children], backends


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def drop_queue(name: str) -> None:
    """Remove this run's queue, its registries and their jobs from Redis."""
    from redis import Redis

    redis = Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        keys = list(redis.scan_iter(match=f"rq:*:{name}", count=500))
        job_ids: set[bytes] = set()
        for key in keys:
            kind = redis.type(key)
            if kind == b"list":
                job_ids.update(redis.lrange(key, 0, -1))
            elif kind == b"zset":
                job_ids.update(redis.zrange(key, 0, -1))
        doomed = keys + [b"rq:job:" + j for j in job_ids] + [b"rq:results:" + j for j in job_ids]
        for key in redis.scan_iter(match="rq:worker:*", count=500):
            if redis.type(key) == b"hash" and redis.hget(key, "queues") == name.encode():
                doomed.append(key)
                redis.srem("rq:workers", key)
        for start in range(0, len(doomed), 500):
            redis.delete(*doomed[start : start + 500])
    finally:
        redis.close()


# ---------------------------------------------------------------------------------------------
# Afterwards: the database


def wait_exports(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    deadline = time.monotonic() + SETTLE_WAIT
    try:
        while True:
            with engine.connect() as conn:
                counts = dict(
                    conn.execute(text("SELECT status, count(*) FROM exports GROUP BY status")).all()
                )
            if not counts.get("queued") and not counts.get("running"):
                return counts
            if time.monotonic() > deadline:
                return counts
            time.sleep(1)
    finally:
        engine.dispose()


INVARIANTS_SQL = """
WITH money AS (
    SELECT g.id, g.title_id, g.state, g.approved_cents, g.payout_cents,
        COALESCE(SUM(p.amount_cents) FILTER (
            WHERE p.state = 'paid' AND p.kind IN ('advance', 'balance')), 0) AS paid,
        COALESCE(SUM(p.amount_cents) FILTER (
            WHERE p.state = 'paid' AND p.kind = 'recovery'), 0) AS recovered,
        COALESCE(SUM(p.amount_cents) FILTER (
            WHERE p.state IN ('authorised', 'paid') AND p.kind IN ('advance', 'balance')), 0)
            AS outgoing
    FROM grants g LEFT JOIN payouts p ON p.grant_id = g.id
    GROUP BY g.id
)
"""

TITLES_SQL = (
    INVARIANTS_SQL
    + """
SELECT t.id, t.cap_cents, t.committed_cents,
    COALESCE(SUM(CASE
        WHEN m.state IN ('approved', 'disbursed', 'interim_reported', 'final_reported')
            THEN m.approved_cents
        WHEN m.state IN ('closed', 'terminated') THEN m.paid - m.recovered
        ELSE 0 END), 0) AS expected
FROM titles t LEFT JOIN money m ON m.title_id = t.id
GROUP BY t.id ORDER BY t.id
"""
)

GRANTS_SQL = (
    INVARIANTS_SQL
    + """
SELECT id, state, approved_cents, payout_cents, paid, recovered, outgoing FROM money ORDER BY id
"""
)


def check_invariants(url: str) -> tuple[list[tuple[str, bool, str]], dict[str, Any]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            titles = conn.execute(text(TITLES_SQL)).all()
            grants = conn.execute(text(GRANTS_SQL)).all()
            exports = dict(
                conn.execute(text("SELECT status, count(*) FROM exports GROUP BY status")).all()
            )
            payouts = dict(
                conn.execute(
                    text("SELECT kind || ' ' || state, count(*) FROM payouts GROUP BY 1 ORDER BY 1")
                ).all()
            )
    finally:
        engine.dispose()

    def first(rows: list[Any]) -> str:
        return "; ".join(str(tuple(r)) for r in rows[:3])

    over_cap = [t for t in titles if t.committed_cents > t.cap_cents]
    drift = [t for t in titles if t.committed_cents != t.expected]
    counter = [g for g in grants if g.payout_cents != g.outgoing]
    over_approved = [g for g in grants if g.payout_cents > (g.approved_cents or 0)]
    overpaid = [g for g in grants if g.paid > (g.approved_cents or 0)]
    total_exports = sum(exports.values())
    committed = sum(t.committed_cents for t in titles)
    cap = sum(t.cap_cents for t in titles)
    checks = [
        (
            f"committed ≤ cap on every title ({len(titles)} titles, "
            f"{money(committed)} of {money(cap)} EUR committed)",
            not over_cap,
            first(over_cap),
        ),
        (
            "committed = Σ approved of live grants + Σ (paid − recovered) of closed/terminated",
            not drift,
            first(drift),
        ),
        (
            f"payout_cents = Σ authorised-or-paid advances and balances ({len(grants)} grants)",
            not counter,
            first(counter),
        ),
        ("payout_cents ≤ approved on every grant", not over_approved, first(over_approved)),
        ("paid ≤ approved on every grant", not overpaid, first(overpaid)),
        (
            f"every export finished ({exports.get('finished', 0)} of {total_exports})",
            total_exports > 0 and exports.get("finished", 0) == total_exports,
            str(exports),
        ),
    ]
    states = Counter(g.state for g in grants)
    facts = {
        "states": states,
        "paid": sum(g.paid for g in grants),
        "recovered": sum(g.recovered for g in grants),
        "approved_live": sum(g.approved_cents or 0 for g in grants if g.state in COMMITTED),
        "payouts": payouts,
        "committed": committed,
        "cap": cap,
    }
    return checks, facts


def audit_verify(env: dict[str, str]) -> tuple[bool, str]:
    out = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = (out.stdout + out.stderr).strip().splitlines()
    return out.returncode == 0, (text[-1] if text else f"exit {out.returncode}")


def log_findings(log: Path) -> list[str]:
    """Tracebacks, worker timeouts and restarts from the gunicorn log."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    found = []
    for i, line in enumerate(lines):
        if "Traceback" in line or "WORKER TIMEOUT" in line or "CRITICAL" in line:
            found.append("\n".join(lines[max(0, i - 1) : i + 30]))
        if len(found) >= 3:
            break
    return found


# ---------------------------------------------------------------------------------------------
# The run


def report(stats: Stats, seconds: float) -> int:
    rows = []
    everything: list[float] = []
    for kind, values in stats.latency.items():
        values.sort()
        everything.extend(values)
        refused = sum(n for (k, _), n in stats.refused.items() if k == kind)
        rows.append((kind, values, refused, stats.errors.get(kind, 0)))
    everything.sort()
    rows.sort(key=lambda r: -len(r[1]))
    print(f"\n{'kind':<52}{'requests':>9}{'409':>7}{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}", end="")
    print(f"{'p99 ms':>9}")

    def line(name: str, values: list[float], refused: int, errors: int) -> None:
        p = [percentile(values, q) * 1000 for q in (50, 95, 99)]
        print(f"{name:<52}{len(values):>9,}{refused:>7,}{errors:>7,}", end="")
        print(f"{p[0]:>9.1f}{p[1]:>9.1f}{p[2]:>9.1f}")

    for kind, values, refused, errors in rows:
        line(kind, values, refused, errors)
    line("all", everything, sum(stats.refused.values()), sum(stats.errors.values()))
    print(
        f"\nthroughput: {len(everything) / seconds:.1f} requests/s ({len(everything):,} in ", end=""
    )
    print(f"{seconds:.1f} s)")
    reasons = Counter()
    for (_, reason), n in stats.refused.items():
        reasons[reason] += n
    print("409 refusals (expected): " + (", ".join(f"{r} {n:,}" for r, n in reasons.most_common())))
    return len(everything)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("LOAD_SECONDS", 300)))
    parser.add_argument("--clients", type=int, default=8, help="client threads (plus the auditor)")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0))
    workers = 2 * cores  # the README: "2 × cores is a good start"
    folder = Path(tempfile.mkdtemp(prefix="pearl-load-"))
    log = folder / "gunicorn.log"
    worker_log = folder / "worker.log"
    secret = secrets.token_hex(32)
    queue = f"pearl_load_{secrets.token_hex(4)}"
    url, drop = create_database()
    env = dict(os.environ)
    env.pop("FLASK_DEBUG", None)
    env.update(DATABASE_URL=url, REDIS_URL=REDIS_URL, SECRET_KEY=secret, EXPORT_QUEUE=queue)
    server = worker = None
    stats = Stats()
    try:
        subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        year = seed(url, secret)
        port = free_port()
        with open(log, "wb") as out:
            server = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "--workers",
                    str(workers),
                    "--bind",
                    f"{HOST}:{port}",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        with open(worker_log, "wb") as out:
            worker = subprocess.Popen(
                [str(BIN / "flask"), "--app", "wsgi", "exports", "worker"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_healthy(port, [server, worker], log)
        members, officers, auditor, admin = sign_in(port, Stats())

        load_before = os.getloadavg()[0]
        workers_before, backends_before = server_pids(server.pid, url)
        cpu_before = cpu_of(workers_before + backends_before)
        own_before = time.process_time()
        start = time.monotonic()
        ctx = Ctx(
            port, stats, World(), members, officers, auditor, admin, year, start + args.seconds
        )
        drivers = [Driver(ctx, args.seed + i) for i in range(args.clients)]
        threads = [threading.Thread(target=d.loop, daemon=True) for d in drivers]
        audit_driver = Driver(ctx, args.seed - 1, as_user=auditor)
        threads.append(threading.Thread(target=audit_driver.auditor_loop, daemon=True))
        print(
            f"Load: {args.seconds:.0f} s, {args.clients} clients + the auditor, gunicorn "
            f"--workers {workers} (2 × {cores} cores), PostgreSQL, Redis",
            flush=True,
        )
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(0.0, ctx.end - time.monotonic()) + 240)
        elapsed = time.monotonic() - start
        own_cpu = time.process_time() - own_before
        load_after = os.getloadavg()[0]
        workers_after, backends_after = server_pids(server.pid, url)
        cpu_after = cpu_of(workers_after + backends_after)

        def used(pids: list[int]) -> float:
            return sum(cpu_after[p] - cpu_before.get(p, 0.0) for p in pids if p in cpu_after)

        if any(t.is_alive() for t in threads):
            stats.error("load generator", "a client thread was still running 240 s after the end")

        total = report(stats, elapsed)
        per = 1000 / max(total, 1)
        print(
            f"CPU per request: gunicorn workers {used(workers_after) * per:.1f} ms, PostgreSQL "
            f"{used(backends_after) * per:.1f} ms, load generator {own_cpu * per:.1f} ms; "
            f"load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at the end "
            f"({cores} cores)"
        )
        if sorted(workers_after) != sorted(workers_before):
            stats.error("gunicorn", f"workers restarted: {workers_before} → {workers_after}")
        wait_exports(url)
        checks, facts = check_invariants(url)
        ok, verdict = audit_verify(env)
        checks.append((f"flask --app wsgi audit verify: {verdict}", ok, verdict))
        states = ", ".join(f"{s} {n}" for s, n in sorted(facts["states"].items()))
        print(f"grants: {sum(facts['states'].values()):,} ({states})")
        print(
            f"money: {money(facts['approved_live'])} EUR approved on live grants, "
            f"{money(facts['paid'])} paid, {money(facts['recovered'])} recovered; "
            f"payouts: " + ", ".join(f"{k} {n}" for k, n in facts["payouts"].items())
        )
        print(f"statements requested by the auditor: {len(ctx.export_ids)}")
        print("invariants (in the database):")
        for name, passed, detail in checks:
            print(f"  {'PASS' if passed else 'FAIL'}  {name}" + ("" if passed else f": {detail}"))
        errors = sum(stats.errors.values())
        if stats.details:
            print("\nfirst errors:")
            for text in stats.details[:20]:
                print("  " + text)
        findings = log_findings(log)
        for finding in findings:
            print(f"\nfrom {log}:\n{finding}")
        invariants_ok = all(passed for _, passed, _ in checks)
        print()
        print(f"{'PASS' if errors == 0 else 'FAIL'}  0 errors ({errors:,} of {total:,} requests)")
        print(f"{'PASS' if invariants_ok else 'FAIL'}  invariants intact")
        passed = errors == 0 and invariants_ok
        if passed:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"logs kept in {folder}")
        return 0 if passed else 1
    finally:
        stop(server)
        stop(worker)
        drop()
        drop_queue(queue)


if __name__ == "__main__":
    sys.exit(main())
