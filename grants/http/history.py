"""A grant's history in words: each audit event as a row a person reads.

The audit trail stores codes and the API returns them as stored (``request_changes``,
``"1950.00"``, ``{"changed": …}``); the pages show labels instead: states, events, roles from
the workflows' label tables (``workflows.labels``), kinds and categories in words, amounts as the
pages show money (``1,950.00 EUR``), dates as dates, and for an edit each field changed by its
label, before → after. Nothing of an event's data is shown raw: what has no words here is left
out rather than printed as JSON.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grants import audit
from grants.audit import AuditEvent
from grants.extensions import db
from grants.http.web import money, words
from grants.money import MONEY_PATTERN, parse_money
from workflows.labels import event_label, role_label, state_label

_MONEY_RE = re.compile(MONEY_PATTERN)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_MONTH_RE = re.compile(r"^\d{4}-\d{2}$")
_LONG = 60  # longer texts are shortened in a row (the whole text is on its page)

#: What an audit action that is no workflow event is called in the history.
ACTION_LABELS = {
    "create": "Proposal created",
    "update": "Proposal edited",
    "comment": "Comment",
    "payout_authorised": "Payout authorised",
    "payout_paid": "Payout confirmed paid",
    "payout_cancelled": "Payout cancelled",
    "report_created": "Report started",
    "report_updated": "Report edited",
    "expense_adjusted": "Eligible amount adjusted",
    "receipt_uploaded": "Receipt added",
    "export_requested": "Statement requested",
    "export_downloaded": "Statement downloaded",
    "reminder_sent": "Reminder sent",
    "rate_set": "Exchange rate set",
    "city_created": "City added",
    "title_awarded": "Title awarded",
    "user_created": "User added",
    "user_updated": "User changed",
    "token_issued": "Signed in to the API",  # nosec B105: a label, not a secret
    "agreement_issued": "Agreement issued",
    "agreement_signed": "Agreement signed by the city",
    "agreement_countersigned": "Agreement countersigned by finance",
    "bank_account_proposed": "Bank account proposed",
    "bank_account_verified": "Bank account verified",
    "bank_account_rejected": "Bank account refused",
    "bank_account_superseded": "Bank account replaced",
}

#: The report workflow's events, recorded as ``report_<event>``.
_REPORT_EVENTS = {"report_submit": "submit", "report_return": "return", "report_accept": "accept"}

#: Fields of the data of events by the words their forms use.
FIELD_LABELS = {
    "title": "Title",
    "summary": "Summary",
    "start_date": "Start date",
    "end_date": "End date",
    "requested_amount": "Requested amount",
    "approved_amount": "Approved amount",
    "budget_lines": "Budget lines",
    "amount": "Amount",
    "kind": "Kind",
    "paid_on": "Paid on",
    "payment_reference": "Bank reference",
    "total_eur": "Total (EUR)",
    "eligible_eur": "Eligible (EUR)",
    "eligible_eur_before": "Eligible before",
    "invoice_number": "Invoice",
    "narrative": "What happened",
    "expenses": "Expense lines",
    "file_name": "File",
    "due_on": "Due on",
    "month": "Month",
    "currency": "Currency",
    "email": "Email",
    "role": "Role",
    "is_active": "Active",
    "password_changed": "Password changed",  # nosec B105: a label, not a secret
    "sessions_ended": "Signed out everywhere",
    "time_zone": "Time zone",
    "expires_at": "Expires",
    "visibility": "Who sees it",
    "cost": "What it cost (paid − recovered)",
    "recovery_due": "Owed back by the city",
    "version": "Version",
    "signatory_name": "Signed by",
    "address": "From the address",
}

#: Keys that only link an event to its rows, or that the row's label says already.
_QUIET = {
    "cause",
    "params",
    "sha256",
    "terms_sha256",
    "adjustments",
    "mentor_city_ids",
    "city_id",
    "to",
    "size",
}

_VISIBILITY = {"shared": "Shared with the city", "internal": "Internal (staff and mentors)"}
_MOMENTS = {"before": "before it is due", "overdue": "overdue"}


@dataclass(frozen=True)
class HistoryRow:
    """One event of a grant's history as the page shows it."""

    at: dt.datetime
    who: str
    role: str | None
    what: str
    state: str
    comment: str | None
    details: list[str] = field(default_factory=list)


def history_rows(events: Iterable[AuditEvent]) -> list[HistoryRow]:
    """The events (oldest first) as rows in words."""
    return [describe(e) for e in events]


def describe(event: AuditEvent) -> HistoryRow:
    data = event.data if isinstance(event.data, Mapping) else {}
    explain = _EXPLAIN.get(event.action, _generic)
    return HistoryRow(
        at=event.at,
        who=event.actor_email or "System",
        role=role_label(event.actor_role) if event.actor_role else None,
        what=action_label(event.action, data),
        state=_states(event.from_state, event.to_state),
        comment=event.comment or None,
        details=[d for d in explain(data) if d],
    )


def action_label(action: str, data: Mapping[str, Any] | None = None) -> str:
    """An audit action's label: the workflow event's own label where it is one."""
    data = data or {}
    if action in _REPORT_EVENTS:
        return event_label(_REPORT_EVENTS[action], "report")
    if action == "payout_cancelled":
        return event_label("cancel", "payout")
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    return event_label(action, "grant")


def _states(before: str | None, after: str | None) -> str:
    if before and after and before != after:
        return f"{state_label(before)} → {state_label(after)}"
    return state_label(after) if after else ""


# ---------------------------------------------------------------------------------------------
# Values in words


def label(key: str) -> str:
    return FIELD_LABELS.get(key) or words(key).capitalize()


def code(value: Any) -> str:
    """A code with no label table (kinds, categories): its words, capitalised."""
    return words(str(value)).capitalize() if value else "—"


def amount(value: Any, currency: str = "EUR") -> str:
    """``"1950.00"`` → ``1,950.00 EUR``."""
    if isinstance(value, str) and _MONEY_RE.fullmatch(value):
        return money(parse_money(value, allow_zero=True), currency)
    if isinstance(value, str) and value.startswith("-") and _MONEY_RE.fullmatch(value[1:]):
        return money(-parse_money(value[1:], allow_zero=True), currency)
    return value_text(value)


def value_text(value: Any, key: str = "") -> str:
    """A stored value in words (never JSON): money as money, dates as dates, yes or no."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in ("kind", "category"):
        return code(value)
    if key == "visibility":
        return _VISIBILITY.get(str(value), code(value))
    if key == "role":
        return role_label(str(value))
    if isinstance(value, str) and (_MONEY_RE.fullmatch(value) or _money_key(key)):
        return amount(value)
    if isinstance(value, str) and _DATETIME_RE.match(value):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return _short(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, int | float | str):
        return _short(str(value))
    return ""  # lists and mappings are described by their action, never printed raw


def _money_key(key: str) -> bool:
    return key.endswith(("amount", "_eur", "_eur_before"))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _LONG else text[: _LONG - 1].rstrip() + "…"


def _pairs(data: Mapping[str, Any], *keys: str) -> list[str]:
    return [f"{label(k)}: {value_text(data[k], k)}" for k in keys if data.get(k) not in (None, "")]


def _change(key: str, before: Any, after: Any) -> str:
    return f"{label(key)}: {value_text(before, key)} → {value_text(after, key)}"


# ---------------------------------------------------------------------------------------------
# Budget and expense lines


def _budget_line(line: Mapping[str, Any]) -> str:
    text = f"{code(line.get('category'))}"
    if line.get("description"):
        text += f" “{_short(str(line['description']))}”"
    return f"{text} {amount(line.get('amount'))}"


def _budget_change(before: Any, after: Any) -> list[str]:
    """Budget lines added and removed (a line changed is one removed and one added)."""
    old = [_budget_line(x) for x in before or [] if isinstance(x, Mapping)]
    new = [_budget_line(x) for x in after or [] if isinstance(x, Mapping)]
    added = [x for x in new if x not in old]
    removed = [x for x in old if x not in new]
    parts = []
    if removed:
        parts.append("removed " + ", ".join(removed))
    if added:
        parts.append("added " + ", ".join(added))
    return [f"Budget lines changed: {'; '.join(parts)}" if parts else "Budget lines changed"]


def _expense_line(line: Mapping[str, Any]) -> str:
    currency = str(line.get("currency") or "EUR")
    text = f"invoice {line.get('invoice_number') or '—'}"
    if line.get("supplier"):
        text += f" of {_short(str(line['supplier']))}"
    text += f", {amount(line.get('amount'), currency)}"
    if line.get("vat_amount") and line["vat_amount"] != "0.00":
        recoverable = " recoverable" if line.get("vat_recoverable") else ""
        text += f" (VAT {amount(line['vat_amount'], currency)}{recoverable})"
    return text


def _expense_lines(lines: Any) -> str:
    items = [_expense_line(x) for x in lines or [] if isinstance(x, Mapping)]
    if not items:
        return "No expense line"
    count = "1 expense line" if len(items) == 1 else f"{len(items)} expense lines"
    return f"{count}: " + "; ".join(items)


def _expense_change(before: Any, after: Any) -> list[str]:
    old = {_line_key(x): x for x in before or [] if isinstance(x, Mapping)}
    new = {_line_key(x): x for x in after or [] if isinstance(x, Mapping)}
    out = []
    for key, line in new.items():
        if key not in old:
            out.append(f"Expense line added: {_expense_line(line)}")
        elif old[key] != line:
            out.append(f"Expense line changed: {_expense_line(old[key])} → {_expense_line(line)}")
    out.extend(f"Expense line removed: {_expense_line(x)}" for k, x in old.items() if k not in new)
    return out or ["Expense lines changed"]


def _line_key(line: Mapping[str, Any]) -> tuple[Any, ...]:
    return (line.get("invoice_number"), line.get("supplier"))


# ---------------------------------------------------------------------------------------------
# Each action's details


def _report_name(data: Mapping[str, Any]) -> str:
    return f"{code(data.get('kind'))} report" if data.get("kind") else ""


def _generic(data: Mapping[str, Any]) -> list[str]:
    out = []
    for key, value in data.items():
        if key in _QUIET or key.endswith("_id") or key.endswith("_ids"):
            continue
        if isinstance(value, Mapping) and {"from", "to"} <= set(value):
            out.append(_change(key, value["from"], value["to"]))
        elif isinstance(value, bool) and key in ("password_changed", "sessions_ended"):
            if value:
                out.append(label(key))
        else:
            text = value_text(value, key)
            if text:
                out.append(f"{label(key)}: {text}")
    return out


def _create(data: Mapping[str, Any]) -> list[str]:
    out = _pairs(data, "title", "requested_amount")
    lines = data.get("budget_lines")
    if isinstance(lines, list) and lines:
        out.append("Budget: " + "; ".join(_budget_line(x) for x in lines if isinstance(x, Mapping)))
    return out


def _update(data: Mapping[str, Any]) -> list[str]:
    changed = data.get("changed")
    if not isinstance(changed, Mapping):
        return _generic(data)
    out = []
    for key, change in changed.items():
        if not isinstance(change, Mapping):
            continue
        if key == "budget_lines":
            out.extend(_budget_change(change.get("from"), change.get("to")))
        else:
            out.append(_change(key, change.get("from"), change.get("to")))
    return out


def _payout(data: Mapping[str, Any]) -> list[str]:
    out = [f"{code(data.get('kind'))} of {amount(data.get('amount'))}"] if data.get("kind") else []
    return out + _pairs(data, "paid_on", "payment_reference")


def _report(data: Mapping[str, Any]) -> list[str]:
    return [_report_name(data), *_pairs(data, "total_eur", "eligible_eur")]


def _report_created(data: Mapping[str, Any]) -> list[str]:
    return [_report_name(data), _expense_lines(data.get("expenses"))]


def _report_updated(data: Mapping[str, Any]) -> list[str]:
    out = [_report_name(data)]
    if data.get("narrative"):
        out.append("What happened: changed")
    expenses = data.get("expenses")
    if isinstance(expenses, Mapping):
        out.extend(_expense_change(expenses.get("from"), expenses.get("to")))
    return out


def _report_accept(data: Mapping[str, Any]) -> list[str]:
    out = [_report_name(data), *_pairs(data, "eligible_eur")]
    adjustments = [a for a in data.get("adjustments") or [] if isinstance(a, Mapping)]
    out.extend(
        f"Invoice {a.get('invoice_number') or '—'}: eligible "
        f"{amount(a.get('eligible_eur_before'))} → {amount(a.get('eligible_eur'))}"
        for a in adjustments
    )
    return out


def _expense_adjusted(data: Mapping[str, Any]) -> list[str]:
    return [
        f"Invoice {data.get('invoice_number') or '—'}: eligible "
        f"{amount(data.get('eligible_eur_before'))} → {amount(data.get('eligible_eur'))}"
    ]


def _receipt(data: Mapping[str, Any]) -> list[str]:
    out = _pairs(data, "file_name")
    size = data.get("size")
    if isinstance(size, int):
        out.append(f"{size / 1024:,.1f} kB" if size >= 1024 else f"{size} bytes")
    return out


def _comment(data: Mapping[str, Any]) -> list[str]:
    return _pairs(data, "visibility")


def _reminder(data: Mapping[str, Any]) -> list[str]:
    out = []
    if data.get("kind"):
        due = f" due {data['due_on']}" if data.get("due_on") else ""
        moment = _MOMENTS.get(str(data.get("moment")), "")
        out.append(f"{code(data['kind'])} report{due}" + (f", {moment}" if moment else ""))
    to = data.get("to")
    if isinstance(to, int):
        out.append("sent to 1 person" if to == 1 else f"sent to {to} people")
    return out


def _export(data: Mapping[str, Any]) -> list[str]:
    return [code(data["kind"])] if data.get("kind") else []


def _rate(data: Mapping[str, Any]) -> list[str]:
    head = " ".join(str(data[k]) for k in ("currency", "month") if data.get(k))
    before, after = data.get("from"), data.get("to")
    change = f"{before} → {after}" if before else f"{after}"
    return [f"{head}: {change} per EUR" if head else change]


_EXPLAIN: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "create": _create,
    "update": _update,
    "comment": _comment,
    "approve": lambda data: _pairs(data, "approved_amount"),
    "advance_paid": lambda data: [],
    "interim_accepted": lambda data: [],
    "final_accepted": lambda data: [],
    "payout_authorised": _payout,
    "payout_paid": _payout,
    "payout_cancelled": _payout,
    "report_created": _report_created,
    "report_updated": _report_updated,
    "report_submit": _report,
    "report_return": _report,
    "report_accept": _report_accept,
    "expense_adjusted": _expense_adjusted,
    "receipt_uploaded": _receipt,
    "reminder_sent": _reminder,
    "export_requested": _export,
    "export_downloaded": _export,
    "rate_set": _rate,
}


def report_history(report_id: int, grant_id: int) -> list[HistoryRow]:
    """The rows of one report: its own events and those of its lines and receipts."""
    events = audit.grant_history(db.session, grant_id, include_internal=False)
    return history_rows(
        e
        for e in events
        if (e.subject_type == "report" and e.subject_id == report_id)
        or (isinstance(e.data, Mapping) and e.data.get("report_id") == report_id)
    )
