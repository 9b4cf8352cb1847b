"""The grant page: the grant with its reports, payouts, comments, history and diagram."""

from __future__ import annotations

from typing import Any

from flask import render_template

from grants import audit, scope
from grants.comments import services as comments
from grants.comments.policies import may_comment
from grants.extensions import db
from grants.figures import grant_figures
from grants.grant.policies import may_edit_grant
from grants.http.grant import presenters
from grants.http.pages import bp
from grants.http.reports import presenters as report_presenters
from grants.http.web import (
    markup,
    me,
    page,
)
from grants.payouts import services as payouts
from grants.payouts.policies import (
    authorisable_kinds,
    may_authorise_payouts,
    may_cancel_payout,
    may_confirm_payout,
)
from grants.reports import services as reports
from grants.reports.policies import may_file_report
from workflows.diagram import state_diagram_svg
from workflows.grant import CITY_MEMBER, FINANCE_OFFICER, GRANT
from workflows.report import KINDS


@bp.route("/grants/<int:grant_id>")
@page()
def grant(grant_id: int) -> Any:
    user = me()
    grant = scope.get_grant(user, grant_id)
    out = presenters.grant_out(grant, user)
    # Finance officers are offered an optional comment on every event (their decisions).
    optional_comment = user.role == FINANCE_OFFICER
    events = [
        {
            "event": event,
            "label": GRANT.event_label(event),
            "comment_required": GRANT.transition(event).comment_required,
            "comment_field": GRANT.transition(event).comment_required or optional_comment,
            "final": GRANT.transition(event).final,
        }
        for event in out["available_events"]
    ]
    is_member = user.role == CITY_MEMBER
    return render_template(
        "proposals/grant.html",
        grant=grant,
        out=out,
        events=events,
        can_edit=may_edit_grant(grant, user),
        can_file=[k for k in KINDS if may_file_report(grant, k, user)],
        can_comment=may_comment(user, "shared"),
        internal_comments=may_comment(user, "internal"),
        reports=[report_presenters.report_out(r, user) for r in reports.list_reports(grant)],
        payouts=[
            (p, may_confirm_payout(p, user), may_cancel_payout(p, user))
            for p in payouts.list_payouts(grant)
        ],
        payout_kinds=authorisable_kinds(grant, grant_figures(grant), user)
        if may_authorise_payouts(user)
        else [],
        comments=comments.list_comments(grant, user),
        history=audit.grant_history(db.session, grant.id, include_internal=not is_member),
        diagram=markup(
            state_diagram_svg(
                GRANT,
                grant.state,
                title=f"The life of a grant; this one is {GRANT.state_label(grant.state).lower()}",
            )
        ),
        transitions=GRANT.transitions,
    )
