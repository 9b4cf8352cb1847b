"""The grant page: the grant with its reports, payouts, comments, history and diagram."""

from __future__ import annotations

from typing import Any

from flask import render_template

from grants import audit, scope
from grants.comments import services as comments
from grants.extensions import db
from grants.figures import grant_figures
from grants.http.grant import presenters
from grants.http.pages import bp
from grants.http.reports import presenters as report_presenters
from grants.http.web import (
    markup,
    me,
    page,
)
from grants.payouts import services as payouts
from grants.reports import services as reports
from workflows.diagram import state_diagram_svg
from workflows.grant import CITY_MEMBER, EDITABLE, FINANCE_OFFICER, GRANT
from workflows.report import KINDS


@bp.route("/grants/<int:grant_id>")
@page()
def grant(grant_id: int) -> Any:
    user = me()
    grant = scope.get_grant(user, grant_id)
    out = presenters.grant_out(grant, user)
    events = [
        {
            "event": event,
            "label": GRANT.event_label(event),
            "comment_required": GRANT.transition(event).comment_required,
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
        can_edit=is_member and grant.state in EDITABLE,
        can_file=[k for k in KINDS if is_member and reports.can_file(grant, k)],
        can_comment=user.role in comments.COMMENTERS,
        internal_comments=comments.sees_internal(user),
        reports=[report_presenters.report_out(r, user) for r in reports.list_reports(grant)],
        payouts=[(p, payouts.can_confirm(p, user)) for p in payouts.list_payouts(grant)],
        payout_kinds=payouts.authorisable_kinds(grant, grant_figures(grant))
        if user.role == FINANCE_OFFICER
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
