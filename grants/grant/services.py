"""The business rules of a pilot grant: propose, edit, and move it through its life."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from flask import current_app
from sqlalchemy import insert
from sqlalchemy.orm.attributes import set_committed_value

from grants import audit
from grants.agreements.services import agreement_stamp, issue_agreement
from grants.audit import Action
from grants.budget import services as budget
from grants.cities.models import Title
from grants.cities.services import eligible_title, release_from_cap
from grants.db import utcnow
from grants.errors import (
    CapExceeded,
    CityNotEligible,
    InvalidTransition,
    OverApproved,
    Unprocessable,
)
from grants.extensions import db
from grants.grant.models import SETTLING_EVENTS, BudgetLine, Grant, GrantFigures
from grants.grant.policies import may_close, may_edit_grant, proposal_terms
from grants.lifecycle import fire_and_record, precheck
from grants.money import MAX_CENTS, format_money
from grants.users.models import User
from workflows.grant import (
    APPROVED,
    DISBURSED,
    GRANT,
    INTERIM_REPORTED,
)
from workflows.table import SYSTEM

# ---------------------------------------------------------------------------------------------
# Scope: who sees which grant


# ---------------------------------------------------------------------------------------------
# Proposing and editing


def _check_dates(title: Title, start: dt.date, end: dt.date) -> None:
    errors: dict[str, list[str]] = {}
    window = f"inside the title's validity, {title.valid_from} to {title.valid_until}"
    if not title.covers(start):
        errors["start_date"] = [f"Must lie {window}."]
    if not title.covers(end):
        errors["end_date"] = [f"Must lie {window}."]
    if end < start:
        errors.setdefault("end_date", []).append("Must not be before start_date.")
    if errors:
        raise Unprocessable(errors={"json": errors})


def _check_budget(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The total may not exceed the money maximum (422 ``budget_lines``)."""
    total = sum(line["amount"] for line in lines)
    if total > MAX_CENTS:
        raise Unprocessable.field(
            "budget_lines",
            f"The budget lines total {format_money(total)} EUR; a grant's total may not exceed "
            f"{format_money(MAX_CENTS)} EUR.",
        )
    return lines


def _set_budget(grant: Grant, lines: list[dict[str, Any]]) -> None:
    """Replace the budget (checked as by :func:`_check_budget`)."""
    total = sum(line["amount"] for line in _check_budget(lines))
    grant.budget_lines = [
        BudgetLine(
            position=i,
            category=line["category"],
            description=line["description"],
            amount_cents=line["amount"],
        )
        for i, line in enumerate(lines, start=1)
    ]
    grant.requested_cents = total


def _budget_snapshot(grant: Grant) -> list[dict[str, Any]]:
    return [
        {
            "category": b.category,
            "description": b.description,
            "amount": format_money(b.amount_cents),
        }
        for b in grant.budget_lines
    ]


def check_can_propose(user: User) -> Title:
    """The title ``user`` proposes under now, or the refusal of ``may_propose`` (403, 409)."""
    verdict, title = proposal_terms(user)
    verdict.enforce()
    return cast(Title, title)  # an allowed verdict comes with its title


def create_grant(data: dict[str, Any], *, actor: User, title: Title | None = None) -> Grant:
    """A new proposal, in draft, for the member's city and its current title.

    ``title`` is the one :func:`check_can_propose` found for ``actor`` earlier in the request.
    The budget lines are written in one INSERT (SQLite's driver cannot batch the ORM's).
    """
    title = title or check_can_propose(actor)
    _check_dates(title, data["start_date"], data["end_date"])
    grant = Grant(
        city=title.city,
        title_award=title,
        title=data["title"],
        summary=data.get("summary", ""),
        start_date=data["start_date"],
        end_date=data["end_date"],
        state=GRANT.initial,
        created_by_id=actor.id,
    )
    lines = _check_budget(data["budget_lines"])
    grant.requested_cents = sum(line["amount"] for line in lines)
    db.session.add(grant)
    db.session.flush()
    rows = [
        {
            "grant_id": grant.id,
            "position": i,
            "category": line["category"],
            "description": line["description"],
            "amount_cents": line["amount"],
        }
        for i, line in enumerate(lines, start=1)
    ]
    created = (
        db.session.scalars(insert(BudgetLine).returning(BudgetLine), rows).all() if rows else []
    )
    set_committed_value(grant, "budget_lines", sorted(created, key=lambda b: b.position))
    audit.log(
        Action.CREATE,
        grant,
        actor=actor,
        to_state=grant.state,
        data={
            "title": grant.title,
            "requested_amount": format_money(grant.requested_cents),
            "budget_lines": _budget_snapshot(grant),
        },
    )
    return grant


def _editable(grant: Grant) -> dict[str, Any]:
    """What a PATCH may change, as the audit trail shows it."""
    return {
        "title": grant.title,
        "summary": grant.summary,
        "start_date": grant.start_date.isoformat(),
        "end_date": grant.end_date.isoformat(),
        "requested_amount": format_money(grant.requested_cents),
        "budget_lines": _budget_snapshot(grant),
    }


def update_grant(grant: Grant, data: dict[str, Any], *, actor: User) -> Grant:
    """Edit a proposal while it is a draft or changes were requested.

    A PATCH that changes nothing (``{}``, or the values the grant has) writes nothing: no audit
    event, and ``updated_at`` and the row's version stay as they were.
    """
    may_edit_grant(grant, actor).enforce()
    before = _editable(grant)
    start = data.get("start_date", grant.start_date)
    end = data.get("end_date", grant.end_date)
    _check_dates(grant.title_award, start, end)
    for name in ("title", "summary"):
        if name in data and data[name] != getattr(grant, name):
            setattr(grant, name, data[name])
    if start != grant.start_date:
        grant.start_date = start
    if end != grant.end_date:
        grant.end_date = end
    if "budget_lines" in data:
        lines = data["budget_lines"]
        same = [(b.category, b.description, b.amount_cents) for b in grant.budget_lines] == [
            (line["category"], line["description"], line["amount"]) for line in lines
        ]
        if not same:
            _set_budget(grant, lines)
    after = _editable(grant)
    changed = {k: {"from": before[k], "to": after[k]} for k in before if before[k] != after[k]}
    if not changed:
        return grant
    grant.updated_at = utcnow()
    db.session.flush()
    audit.log(
        Action.UPDATE,
        grant,
        actor=actor,
        from_state=grant.state,
        to_state=grant.state,
        data={"changed": changed},
    )
    return grant


# ---------------------------------------------------------------------------------------------
# The life of a grant


def transition_grant(
    grant: Grant,
    event: str,
    *,
    actor: User,
    comment: str | None = None,
    approved_amount: int | None = None,
    cause: dict[str, Any] | None = None,
    figures: GrantFigures | None = None,
) -> Grant:
    """Fire ``event`` on ``grant`` for ``actor``, with its guards, and write the audit event.

    ``cause`` is given for system events: the action of ``actor`` that fired them. Closing and
    terminating are decided on the grant's money: ``figures`` (``grants.figures.grant_figures``
    of the locked grant) are required for those events.
    """
    role = SYSTEM if cause is not None else actor.role
    _row, comment = precheck(GRANT, event, role, comment, what="grants")
    if approved_amount is not None and event != "approve":
        raise Unprocessable.field("approved_amount", "Only the approve event takes an amount.")
    GRANT.check(event, grant.state, role)

    data: dict[str, Any] = dict(cause or {})
    if event == "submit":
        _guard_submit(grant)
    elif event == "approve":
        amount = grant.requested_cents if approved_amount is None else approved_amount
        if amount > grant.requested_cents:
            raise OverApproved(
                f"The approved amount {format_money(amount)} exceeds the requested "
                f"{format_money(grant.requested_cents)}."
            )
        # The title year's budget, then the title's cap: one lock order (grants.budget).
        budget.commit(grant.title_award, amount)
        grant.approved_cents = amount
        grant.approved_at = utcnow()
        data["approved_amount"] = format_money(amount)
        data["agreement"] = agreement_stamp(
            issue_agreement(grant, interim_due_on=interim_due_on(grant), actor=actor, record=False)
        )
    elif event in SETTLING_EVENTS:
        if figures is None:
            raise TypeError(f"{event} needs the grant's figures")
        if event == "close":
            may_close(figures).enforce()
        # From now on the title counts only what the grant really cost.
        release_from_cap(grant.title_id, (grant.approved_cents or 0) - figures.cost)
        data["cost"] = format_money(figures.cost)
        if event == "terminate":
            data["recovery_due"] = format_money(max(0, figures.paid - figures.eligible_eur))

    grant.updated_at = utcnow()
    fire_and_record(
        GRANT,
        grant,
        event,
        actor=actor,
        action=Action(event),
        comment=comment,
        data=data,
    )
    return grant


def _guard_submit(grant: Grant) -> None:
    title = eligible_title(grant.city)
    if title.id != grant.title_id:
        raise CityNotEligible(
            f"This proposal belongs to the {grant.title_award.year} title, which no longer "
            "covers today: propose the pilot again under the current title."
        )
    _check_dates(title, grant.start_date, grant.end_date)
    if not grant.budget_lines:
        raise InvalidTransition("A proposal needs at least one budget line to be submitted.")
    if grant.requested_cents > title.available_cents:
        raise CapExceeded(
            f"The request of {format_money(grant.requested_cents)} EUR exceeds what is left of "
            f"the title's seed money, {format_money(title.available_cents)} EUR."
        )


# ---------------------------------------------------------------------------------------------
# What a caller sees


def reports_due(grant: Grant) -> list[dict[str, Any]]:
    """From approval on, the reports not yet accepted, with their due dates."""
    if grant.state in (APPROVED, DISBURSED):
        kinds = ["interim", "final"]
    elif grant.state == INTERIM_REPORTED:
        kinds = ["final"]
    else:
        return []
    due = {
        "interim": interim_due_on(grant),
        "final": grant.end_date + dt.timedelta(days=current_app.config["FINAL_REPORT_DUE_DAYS"]),
    }
    return [{"kind": k, "due_on": due[k]} for k in kinds]


def interim_due_on(grant: Grant) -> dt.date:
    return grant.start_date + dt.timedelta(days=(grant.end_date - grant.start_date).days // 2)


def available_events(grant: Grant, user: User) -> list[str]:
    return GRANT.available(grant.state, [user.role])
