"""Pages of pilot grants: the list, a grant's page, the proposal form and the grant's events."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from grants import scope
from grants.cities.models import City
from grants.errors import CapExceeded, OverApproved
from grants.extensions import db
from grants.figures import grant_figures
from grants.grant import services
from grants.grant.models import CATEGORIES, SETTLING_EVENTS
from grants.grant.policies import may_edit_grant
from grants.http.grant.schemas import (
    GrantCreateSchema,
    GrantPatchSchema,
    GrantQuerySchema,
    GrantTransitionSchema,
)
from grants.http.schemas import paginate
from grants.http.web import (
    act,
    as_int,
    done,
    drop_blank,
    indexed_rows,
    line_rows,
    load_form,
    me,
    page,
    run_form,
)
from grants.money import format_money, typed_amount
from workflows.grant import CITY_MEMBER, GRANT, STATES
from workflows.labels import event_label

bp = Blueprint("grants_pages", __name__)

BUDGET_FIELDS = ("category", "description", "amount")
PROPOSAL_FIELDS = ("title", "summary", "start_date", "end_date")


# ---------------------------------------------------------------------------------------------
# The list


@bp.route("/grants")
@page()
def grant_list() -> Any:
    user = me()
    raw = {k: v for k, v in request.args.items() if v != ""}
    if "city_id" in raw:
        raw["city_id"] = as_int(raw["city_id"])
    try:
        query = GrantQuerySchema().load(raw)
    except ValidationError:
        flash("Some filters were not understood and were ignored.", "error")
        query = GrantQuerySchema().load({})
    page_no, size = query.pop("page"), query.pop("page_size")
    grants, meta = paginate(db.session, scope.list_query(user, query), page_no, size)
    cities = list(db.session.scalars(select(City).order_by(City.name)))
    if user.role == CITY_MEMBER:
        cities = [c for c in cities if c.id == user.city_id]
    elif user.role == "mentor":
        cities = list(user.mentor_cities)
    filters = {k: request.args.get(k, "") for k in ("state", "city_id", "title_year")}
    return render_template(
        "proposals/list.html",
        rows=[{"grant": g, "reports_due": services.reports_due(g)} for g in grants],
        meta=meta,
        filters=filters,
        states=STATES,
        cities=cities,
    )


# ---------------------------------------------------------------------------------------------
# One grant


@bp.route("/grants/<int:grant_id>/events/<event>", methods=["POST"])
@page()
def fire(grant_id: int, event: str) -> Any:
    """Fire an event of the grant's life from its button (the same service as the API)."""
    user = me()
    grant = scope.get_grant(user, grant_id, for_update=True)
    back = url_for("pages.grant", grant_id=grant.id)
    _like = format_money(grant.requested_cents)
    raw = drop_blank(
        {
            "event": event,
            "comment": request.form.get("comment", "").strip(),
            "approved_amount": typed_amount(request.form.get("approved_amount", "")),
        }
    )

    def run() -> None:
        # The page sends the amount it shows (filled in with the request): an empty one is
        # refused here, never read as "the whole request" (the API keeps that default). Who
        # may not approve now hears that first, from the service (403, 409).
        missing = {}
        offered = event in services.available_events(grant, user)
        if event == "approve" and offered and "approved_amount" not in raw:
            missing = {"approved_amount": f"Please fill in the amount to approve, like {_like}."}
        data = load_form(GrantTransitionSchema(), raw, missing)
        settling = data["event"] in SETTLING_EVENTS
        services.transition_grant(
            grant,
            data["event"],
            actor=user,
            comment=data.get("comment"),
            approved_amount=data.get("approved_amount"),
            figures=grant_figures(grant) if settling else None,
        )

    label = event_label(event, GRANT)
    return act(
        run,
        success=f"Done: {label.lower()}.",
        back=back,
        keep=True,
        # The approval's refusals for its amount are said beside the amount.
        about={CapExceeded: "approved_amount", OverApproved: "approved_amount"}
        if event == "approve"
        else None,
    )


# ---------------------------------------------------------------------------------------------
# The proposal form


def _proposal_form() -> tuple[dict[str, str], dict[int, dict[str, str]]]:
    form = {k: request.form.get(k, "").strip() for k in PROPOSAL_FIELDS}
    return form, indexed_rows(request.form, "budget_lines", BUDGET_FIELDS)


def _proposal_data(form: dict[str, str]) -> dict[str, Any]:
    data = drop_blank({k: v for k, v in form.items() if k != "summary"})
    data["summary"] = form["summary"]
    data["budget_lines"] = [
        drop_blank({**line, "amount": typed_amount(line.get("amount", ""))})
        for line in line_rows(request.form, "budget_lines", BUDGET_FIELDS)
    ]
    return data


def _line_op(rows: dict[int, dict[str, str]]) -> list[dict[str, str]] | None:
    """Without JavaScript, "add a line" and "remove" buttons post the form: do them here."""
    op = request.form.get("op", "")
    if op == "add_line":
        return [*rows.values(), {}]
    if op.startswith("remove_line:"):
        index = as_int(op.split(":", 1)[1])
        return [row for i, row in rows.items() if i != index]
    return None


def _render_form(
    grant: Any, form: dict[str, Any], lines: list[dict[str, Any]], errors: dict, status: int
) -> Any:
    return (
        render_template(
            "proposals/form.html",
            grant=grant,
            form=form,
            lines=lines or [{}],
            errors=errors,
            categories=CATEGORIES,
            title_award=grant.title_award if grant else services.check_can_propose(me()),
        ),
        status,
    )


@bp.route("/grants/new", methods=["GET", "POST"])
@page(roles=[CITY_MEMBER])
def new_grant() -> Any:
    user = me()
    services.check_can_propose(user)  # 409 page, in words, when the city may not propose now
    if request.method == "GET":
        return _render_form(None, {}, [{}, {}], {}, 200)
    form, rows = _proposal_form()
    lines = _line_op(rows)
    if lines is not None:
        return _render_form(None, form, lines, {}, 200)
    data = _proposal_data(form)

    def run() -> Any:
        services.check_can_propose(user)
        return services.create_grant(GrantCreateSchema().load(data), actor=user)

    created, errors, status = run_form(run)
    if status == 200:
        done("Proposal saved as a draft. Submit it when it is ready.")
        return redirect(url_for("pages.grant", grant_id=created.id))
    return _render_form(None, form, _shown_lines(), errors, status)


def _shown_lines() -> list[dict[str, str]]:
    """The non-blank lines as they were sent, indexed as the schema's errors are."""
    return line_rows(request.form, "budget_lines", BUDGET_FIELDS)


@bp.route("/grants/<int:grant_id>/edit", methods=["GET", "POST"])
@page()
def edit_grant(grant_id: int) -> Any:
    user = me()
    grant = scope.get_grant(user, grant_id, for_update=request.method == "POST")
    may_edit_grant(grant, user).enforce()  # 403 for another role, 409 in a later state
    if request.method == "GET":
        form = {
            "title": grant.title,
            "summary": grant.summary,
            "start_date": grant.start_date.isoformat(),
            "end_date": grant.end_date.isoformat(),
        }
        lines = [
            {"category": b.category, "description": b.description, "amount": _amount(b)}
            for b in grant.budget_lines
        ]
        return _render_form(grant, form, lines, {}, 200)
    form, rows = _proposal_form()
    lines = _line_op(rows)
    if lines is not None:
        return _render_form(grant, form, lines, {}, 200)
    data = _proposal_data(form)
    # Left out, a field keeps its value in a PATCH; on the page, emptying it is a mistake.
    blank = {k: "Please fill this in." for k in ("title", "start_date", "end_date") if not form[k]}
    _, errors, status = run_form(
        lambda: services.update_grant(grant, load_form(GrantPatchSchema(), data, blank), actor=user)
    )
    if status == 200:
        done("Proposal saved.")
        return redirect(url_for("pages.grant", grant_id=grant.id))
    return _render_form(grant, form, _shown_lines(), errors, status)


def _amount(line: Any) -> str:
    return format_money(line.amount_cents) or ""
