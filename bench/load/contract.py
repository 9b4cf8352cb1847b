"""The contract of api.md, as far as a client can see it: shapes, formats, figures, scope."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from bench.load.config import RATES
from bench.load.oracle import cents, money, to_eur
from workflows import payout as payouts
from workflows import report as reports
from workflows.grant import GRANT
from workflows.grant import STATES as GRANT_STATES

MONEY = re.compile(r"^[0-9]{1,7}\.[0-9]{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
RATE = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,6})?$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: The 409 reasons of api.md (a contract of the API, not a state machine's vocabulary).
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
GRANT_EVENTS = set(GRANT.events)
#: The state each event of a grant leads to (the scenario expects it in the answer).
TARGET = {t.event: t.dest for t in GRANT.transitions}
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
        need(due["kind"] in reports.KINDS and DATE.fullmatch(due["due_on"]), "reports_due")


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
    need(p["kind"] in payouts.KINDS, f"payout kind {p['kind']!r}")
    need(p["state"] in payouts.STATES, f"payout state {p['state']!r}")
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
    need(r["state"] in reports.STATES, f"report {r['state']!r}")
    if kind is not None:
        need(r["kind"] == kind, f"report kind {r['kind']}, expected {kind}")
    if state is not None:
        need(r["state"] == state, f"report {r['state']}, expected {state}")
    converted = r["state"] in (reports.SUBMITTED, reports.ACCEPTED)
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
        if r["state"] == reports.SUBMITTED:
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
