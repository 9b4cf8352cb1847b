"""Integrity warnings of expense lines (domain.md, "Control of expenses").

A line collides with another line of any grant of the programme when it has

- ``same_receipt``: a receipt file with the same SHA-256 as a receipt of the other line;
- ``same_invoice``: the same supplier and invoice number, both normalised (:func:`normalise`);
- ``same_supplier_date_amount``: the same supplier (normalised), invoice date, currency and
  amount;

and ``outside_period`` when its invoice or payment date lies outside the pilot's dates. A warning
never hides or refuses a line: it is shown beside it, and finance decides. Each lookup is one
indexed query for all the lines asked about (``ix_attachments_sha256``,
``ix_expense_lines_invoice_key``, ``ix_expense_lines_supplier_date_amount``), never a scan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import aliased

from grants.extensions import db
from grants.grant.models import Grant
from grants.reports.models import Attachment, ExpenseLine, normalise

SAME_RECEIPT = "same_receipt"
SAME_INVOICE = "same_invoice"
SAME_SUPPLIER_DATE_AMOUNT = "same_supplier_date_amount"
OUTSIDE_PERIOD = "outside_period"
#: The kinds, in the order a line's warnings are listed.
KINDS = (SAME_RECEIPT, SAME_INVOICE, SAME_SUPPLIER_DATE_AMOUNT, OUTSIDE_PERIOD)

#: Lines asked about in one query at most (a report has at most 500).
_CHUNK = 100

__all__ = [
    "KINDS",
    "LineFacts",
    "Warning",
    "line_warnings",
    "normalise",
    "typed_warnings",
    "warnings_of",
]


@dataclass(frozen=True, order=True)
class Warning:
    """One warning of a line; ``other_*`` name the line it collides with (staff only)."""

    kind: str
    other_expense_id: int | None = None
    other_report_id: int | None = None
    #: a line of the same form being typed (its number, from 1), when it is the other one
    other_line: int | None = None


@dataclass(frozen=True)
class LineFacts:
    """A line known by its values (one being typed): what its warnings are computed from."""

    supplier: str
    invoice_number: str
    invoice_date: dt.date | None
    currency: str
    amount_cents: int | None
    payment_date: dt.date | None = None
    expense_id: int | None = None
    sha256s: frozenset[str] = field(default_factory=frozenset)

    @property
    def supplier_key(self) -> str:
        return normalise(self.supplier)

    @property
    def invoice_key(self) -> str:
        return normalise(self.invoice_number, 100)


def warnings_of(lines: Sequence[ExpenseLine], grant: Grant) -> dict[int, list[Warning]]:
    """The warnings of saved ``lines`` (of one grant), by line id: three joins in all.

    Each join starts from the lines asked about (by id) and reaches the others through an
    index, so its cost grows with the lines asked about and what they collide with, never with
    the lines in the database; its statement is the same whatever the lines (cached).
    """
    ids = [line.id for line in lines]
    found: dict[int, set[Warning]] = {i: set() for i in ids}
    for start in range(0, len(ids), _CHUNK):
        chunk = {"ids": ids[start : start + _CHUNK]}
        for kind, query in saved_line_queries().items():
            for line_id, other_id, report_id in db.session.execute(query, chunk):
                found[line_id].add(Warning(kind, other_id, report_id))
    for line in lines:
        if _outside(line.invoice_date, line.payment_date, grant):
            found[line.id].add(Warning(OUTSIDE_PERIOD))
    return {i: sorted(ws, key=_order) for i, ws in found.items()}


@cache
def saved_line_queries() -> dict[str, Any]:
    """The three lookups of the saved lines ``:ids``: ``(line id, other line id, its report)``.

    Built once (building a statement with aliases costs more than running it).
    """
    ids = bindparam("ids", expanding=True)
    mine, other = aliased(ExpenseLine), aliased(ExpenseLine)
    theirs_file = aliased(Attachment)
    return {
        SAME_RECEIPT: select(Attachment.expense_id, other.id, other.report_id)
        .join(theirs_file, theirs_file.sha256 == Attachment.sha256)
        .join(other, theirs_file.expense_id == other.id)
        .where(Attachment.expense_id.in_(ids), other.id != Attachment.expense_id),
        SAME_INVOICE: select(mine.id, other.id, other.report_id)
        .join(
            other,
            and_(
                other.supplier_key == mine.supplier_key,
                other.invoice_key == mine.invoice_key,
                other.id != mine.id,
            ),
        )
        .where(mine.id.in_(ids), mine.supplier_key != "", mine.invoice_key != ""),
        SAME_SUPPLIER_DATE_AMOUNT: select(mine.id, other.id, other.report_id)
        .join(
            other,
            and_(
                other.supplier_key == mine.supplier_key,
                other.invoice_date == mine.invoice_date,
                other.amount_cents == mine.amount_cents,
                other.currency == mine.currency,
                other.id != mine.id,
            ),
        )
        .where(mine.id.in_(ids), mine.supplier_key != ""),
    }


def _outside(invoice: dt.date | None, payment: dt.date | None, grant: Grant) -> bool:
    dates = [d for d in (invoice, payment) if d is not None]
    return any(d < grant.start_date or d > grant.end_date for d in dates)


def line_warnings(facts: LineFacts, grant: Grant) -> list[Warning]:
    """The warnings of one line, saved or being typed."""
    return _compute([facts], grant)[0]


def typed_warnings(
    facts: Sequence[LineFacts | None], grant: Grant, *, replacing: int | None = None
) -> list[list[Warning]]:
    """The warnings of lines being typed on a report's form (None: a line not readable yet).

    The saved lines of report ``replacing`` are left out (saving the form replaces them); the
    typed lines are compared with each other too, the other one named by its line number.
    """
    readable = [(i, f) for i, f in enumerate(facts) if f is not None]
    found = _compute([f for _, f in readable], grant)
    out: list[list[Warning]] = [[] for _ in facts]
    for (i, f), warnings in zip(readable, found, strict=True):
        kept = [w for w in warnings if replacing is None or w.other_report_id != replacing]
        for j, other in readable:
            if j == i:
                continue
            for kind in _collisions(f, other):
                kept.append(Warning(kind, other_line=j + 1))
        out[i] = sorted(set(kept), key=_order)
    return out


def _collisions(a: LineFacts, b: LineFacts) -> list[str]:
    kinds = []
    if (
        a.supplier_key
        and a.invoice_key
        and (a.supplier_key, a.invoice_key)
        == (
            b.supplier_key,
            b.invoice_key,
        )
    ):
        kinds.append(SAME_INVOICE)
    mine = (a.supplier_key, a.invoice_date, a.amount_cents, a.currency)
    if (
        a.supplier_key
        and a.invoice_date
        and a.amount_cents is not None
        and mine
        == (
            b.supplier_key,
            b.invoice_date,
            b.amount_cents,
            b.currency,
        )
    ):
        kinds.append(SAME_SUPPLIER_DATE_AMOUNT)
    return kinds


def _order(w: Warning) -> tuple[int, int, int]:
    return (KINDS.index(w.kind), w.other_expense_id or 0, w.other_line or 0)


def _compute(facts: Sequence[LineFacts], grant: Grant) -> list[list[Warning]]:
    out: list[set[Warning]] = [set() for _ in facts]
    _same_receipt(facts, out)
    _same_invoice(facts, out)
    _same_supplier_date_amount(facts, out)
    for i, f in enumerate(facts):
        if _outside(f.invoice_date, f.payment_date, grant):
            out[i].add(Warning(OUTSIDE_PERIOD))
    order = {kind: n for n, kind in enumerate(KINDS)}
    return [sorted(found, key=lambda w: (order[w.kind], w.other_expense_id or 0)) for found in out]


def _chunks(facts: Sequence[LineFacts]) -> Iterable[list[tuple[int, LineFacts]]]:
    indexed = list(enumerate(facts))
    for start in range(0, len(indexed), _CHUNK):
        yield indexed[start : start + _CHUNK]


def _same_receipt(facts: Sequence[LineFacts], out: list[set[Warning]]) -> None:
    wanted = {sha for f in facts for sha in f.sha256s}
    if not wanted:
        return
    rows = db.session.execute(
        select(Attachment.sha256, ExpenseLine.id, ExpenseLine.report_id)
        .join(ExpenseLine, Attachment.expense_id == ExpenseLine.id)
        .where(Attachment.sha256.in_(sorted(wanted)))
    ).all()
    for i, f in enumerate(facts):
        for sha, other_id, report_id in rows:
            if sha in f.sha256s and other_id != f.expense_id:
                out[i].add(Warning(SAME_RECEIPT, other_id, report_id))


def _same_invoice(facts: Sequence[LineFacts], out: list[set[Warning]]) -> None:
    for chunk in _chunks(facts):
        keyed = [(i, f) for i, f in chunk if f.supplier_key and f.invoice_key]
        if not keyed:
            continue
        rows = db.session.execute(
            select(
                ExpenseLine.id,
                ExpenseLine.report_id,
                ExpenseLine.supplier_key,
                ExpenseLine.invoice_key,
            ).where(
                or_(
                    *(
                        and_(
                            ExpenseLine.supplier_key == f.supplier_key,
                            ExpenseLine.invoice_key == f.invoice_key,
                        )
                        for _, f in keyed
                    )
                )
            )
        ).all()
        for i, f in keyed:
            for other_id, report_id, supplier_key, invoice_key in rows:
                if (supplier_key, invoice_key) == (f.supplier_key, f.invoice_key) and (
                    other_id != f.expense_id
                ):
                    out[i].add(Warning(SAME_INVOICE, other_id, report_id))


def _same_supplier_date_amount(facts: Sequence[LineFacts], out: list[set[Warning]]) -> None:
    for chunk in _chunks(facts):
        keyed = [
            (i, f)
            for i, f in chunk
            if f.supplier_key and f.invoice_date is not None and f.amount_cents is not None
        ]
        if not keyed:
            continue
        rows = db.session.execute(
            select(
                ExpenseLine.id,
                ExpenseLine.report_id,
                ExpenseLine.supplier_key,
                ExpenseLine.invoice_date,
                ExpenseLine.amount_cents,
                ExpenseLine.currency,
            ).where(
                or_(
                    *(
                        and_(
                            ExpenseLine.supplier_key == f.supplier_key,
                            ExpenseLine.invoice_date == f.invoice_date,
                            ExpenseLine.amount_cents == f.amount_cents,
                        )
                        for _, f in keyed
                    )
                )
            )
        ).all()
        for i, f in keyed:
            mine = (f.supplier_key, f.invoice_date, f.amount_cents, f.currency)
            for other_id, report_id, *theirs in rows:
                if tuple(theirs) == mine and other_id != f.expense_id:
                    out[i].add(Warning(SAME_SUPPLIER_DATE_AMOUNT, other_id, report_id))
