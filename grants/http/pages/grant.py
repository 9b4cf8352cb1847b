"""The grant page: the grant with its reports, payouts, comments, history and diagram."""

from __future__ import annotations

from typing import Any

from flask import render_template

from grants import audit, scope
from grants.agreements.policies import agreement_events, agreement_in_force
from grants.audit import AuditEvent
from grants.comments import services as comments
from grants.comments.policies import may_comment
from grants.db import today
from grants.extensions import db
from grants.figures import grant_figures, year_figures
from grants.grant.models import Grant, GrantFigures
from grants.grant.policies import may_close, may_edit_grant
from grants.http.grant import presenters
from grants.http.history import history_rows
from grants.http.pages import bp
from grants.http.reports import presenters as report_presenters
from grants.http.web import (
    markup,
    me,
    page,
)
from grants.payouts import services as payouts
from grants.payouts.policies import (
    account_to_pay,
    authorisable_kinds,
    may_cancel_payout,
    may_confirm_payout,
    payout_terms,
)
from grants.reports import services as reports
from grants.reports.policies import may_file_report
from grants.users.models import User
from workflows.diagram import state_diagram_svg
from workflows.grant import CITY_MEMBER, FINANCE_OFFICER, GRANT
from workflows.report import KINDS

#: The decisions whose comment the city should read first, at the top of the grant.
DECISIONS = ("request_changes", "approve", "reject", "terminate")


@bp.route("/grants/<int:grant_id>")
@page()
def grant(grant_id: int) -> Any:
    user = me()
    grant = scope.get_grant(user, grant_id)
    out = presenters.grant_out(grant, user)
    figures = grant_figures(grant)
    steps, destructive, held = _next_steps(grant, user, out, figures)
    is_member = user.role == CITY_MEMBER
    history = audit.grant_history(db.session, grant.id, include_internal=not is_member)
    return render_template(
        "proposals/grant.html",
        grant=grant,
        out=out,
        events=steps,
        destructive=destructive,
        held=held,
        payout_offers=_payout_offers(grant, user, figures),
        account_held=_account_held(grant, user, figures),
        decision=_latest_decision(history),
        can_edit=may_edit_grant(grant, user),
        can_file=[k for k in KINDS if may_file_report(grant, k, user)],
        can_comment=may_comment(user, "shared"),
        internal_comments=may_comment(user, "internal"),
        reports=[report_presenters.report_out(r, user) for r in reports.list_reports(grant)],
        payouts=[
            (p, may_confirm_payout(p, user), may_cancel_payout(p, user))
            for p in payouts.list_payouts(grant)
        ],
        comments=comments.list_comments(grant, user),
        history=history_rows(history),
        diagram=markup(
            state_diagram_svg(
                GRANT,
                grant.state,
                title=f"The life of a grant; this one is {GRANT.state_label(grant.state).lower()}",
            )
        ),
        transitions=GRANT.transitions,
        today=today(),
        agreement=_agreement(grant, user, figures),
        # The programme year's budget beside the title's headroom, when approving.
        programme=(
            year_figures(grant.title_award.year) if "approve" in out["available_events"] else None
        ),
    )


def _next_steps(
    grant: Grant, user: User, out: dict[str, Any], figures: GrantFigures
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The grant events ``user`` may fire now: (steps, destructive ones apart, held back).

    A step the policies would refuse now is not offered; it is listed as held, with the
    reason (closing while a balance is due).
    """
    # Finance officers are offered an optional comment on every event (their decisions).
    optional_comment = user.role == FINANCE_OFFICER
    steps, destructive, held = [], [], []
    for event in out["available_events"]:
        row = GRANT.transition(event)
        item = {
            "event": event,
            "label": GRANT.event_label(event),
            "comment_required": row.comment_required,
            "comment_field": row.comment_required or optional_comment,
            "final": row.final,
        }
        verdict = may_close(figures) if event == "close" else None
        if verdict is not None and not verdict.allowed:
            held.append({**item, "reason": verdict.reason})
        elif row.final and event != "close":
            destructive.append(item)
        else:
            steps.append(item)
    steps.sort(key=lambda step: step["event"] != "approve")  # the decision asked for, first
    return steps, destructive, held


def _payout_offers(grant: Grant, user: User, figures: GrantFigures) -> list[dict[str, Any]]:
    """The payouts ``user`` may authorise now, each with its default amount (the first step
    after an approval is the advance; with a balance due, the balance comes before closing)."""
    return [
        {"kind": kind, "default_cents": payout_terms(grant, kind, figures)[1]}
        for kind in authorisable_kinds(grant, figures, user)
    ]


def _account_held(grant: Grant, user: User, figures: GrantFigures) -> str | None:
    """Why a payout due now waits for the city's verified bank account (to a finance officer)."""
    if user.role != FINANCE_OFFICER:
        return None
    for kind in ("advance", "balance"):
        if payout_terms(grant, kind, figures)[0]:
            verdict = account_to_pay(grant, kind)[0]
            if not verdict:
                return verdict.reason
    return None


def _agreement(grant: Grant, user: User, figures: GrantFigures) -> dict[str, Any]:
    """The agreement in force, the events ``user`` may fire on it (sign, countersign: offered
    before the advance), and why the advance waits for it (to a finance officer)."""
    row = agreement_in_force(grant.id)
    held = None
    if row is not None and not row.is_signed and user.role == FINANCE_OFFICER:
        verdict = payout_terms(grant, "advance", figures)[0]
        held = verdict.reason if verdict.reason_code == "agreement_missing" else None
    return {"row": row, "events": agreement_events(row, user), "held": held}


def _latest_decision(history: list[AuditEvent]) -> AuditEvent | None:
    """The last decision on the grant that came with a comment (what finance asked for)."""
    for event in reversed(history):
        if event.action in DECISIONS and event.comment:
            return event
    return None
