"""What a statement says about itself: name, document properties and the "About" sheet."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select

from exports.datasets import Scope
from exports.models import KIND_LABELS, Export
from exports.workbooks import SheetResult
from grants.audit import AuditEvent
from grants.audit import head as audit_head
from grants.extensions import db
from grants.money import format_money
from grants.payouts.models import Payout
from grants.reports.models import ExpenseLine, Report


def file_name(export: Export, at: dt.datetime) -> str:
    scope = "-".join(str(v) for v in export.params.values())
    return f"pearl-grants_{export.kind}_{scope}_{at:%Y%m%d-%H%M%S}.xlsx"


def properties(export: Export, requester: str) -> dict[str, str]:
    return {
        "title": f"BSR Cultural Pearls seed money: {KIND_LABELS[export.kind].lower()}",
        "subject": json.dumps(export.params, sort_keys=True),
        "creator": "Pearl Grants",
        "description": f"Export {export.id} requested by {requester}",
        "keywords": f"{export.kind} audit statement",
    }


def estimate_rows(scope: Scope) -> int:
    """Rows the job will write, for its progress (a cheap count, not exact for audit rows)."""
    in_scope = scope.grant_query.order_by(None).scalar_subquery()
    counts = [
        select(func.count()).select_from(scope.grant_query.order_by(None).subquery()),
        select(func.count(Payout.id)).where(Payout.grant_id.in_(in_scope)),
        select(func.count(ExpenseLine.id))
        .join(Report, ExpenseLine.report_id == Report.id)
        .where(Report.grant_id.in_(in_scope)),
        select(func.count(AuditEvent.id)).where(AuditEvent.grant_id.in_(in_scope)),
    ]
    return sum(db.session.scalar(q) or 0 for q in counts)


def about_rows(
    export: Export,
    scope: Scope,
    requester: str,
    generated_at: dt.datetime,
    results: dict[str, SheetResult],
) -> list[tuple[str, Any]]:
    head_id, head_hash = audit_head(db.session)
    rows: list[tuple[str, Any]] = [
        ("Statement", KIND_LABELS[export.kind]),
        ("Programme", "BSR Cultural Pearls seed money"),
        ("Export id", export.id),
        ("Parameters", json.dumps(export.params, sort_keys=True)),
        ("Generated at (UTC)", generated_at),
        ("Requested by", requester),
        ("Requested at (UTC)", export.requested_at),
        ("Money", "EUR unless a Currency column says otherwise; amounts are numbers"),
        ("Audit chain head: event", head_id),
        ("Audit chain head: SHA-256", head_hash),
    ]
    for name, result in results.items():
        rows.append((f"{name}: rows", result.rows))
        rows.append((f"{name}: SHA-256 of rows", result.sha256))
        for column, cents in result.totals.items():
            rows.append((f"{name}: total {column}", format_money(cents)))
    return rows
