"""The dashboard of each role: what is theirs to do next."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, url_for
from sqlalchemy import func, select

from grants import scope
from grants.banking import services as banking
from grants.banking.policies import may_decide_account
from grants.cities.models import City
from grants.db import today
from grants.extensions import db
from grants.figures import grant_figures
from grants.grant import services as proposals
from grants.grant.models import Grant
from grants.grant.policies import may_propose
from grants.http.cities.presenters import title_figures
from grants.http.pages import bp
from grants.http.web import (
    me,
    page,
    signed_in_user,
)
from grants.payouts.policies import authorisable_kinds, may_confirm_payout
from grants.reports.awaited import rates_awaited
from grants.users.models import User
from workflows.grant import (
    APPROVED,
    AUDITOR,
    CITY_MEMBER,
    FINAL_REPORTED,
    FINANCE_OFFICER,
    MENTOR,
    TERMINATED,
)


@bp.route("/")
def home() -> Any:
    if signed_in_user() is None:
        return redirect(url_for("users_pages.login"))
    return redirect(url_for("pages.dashboard"))


@bp.route("/dashboard")
@page()
def dashboard() -> Any:
    user = me()
    if user.role == CITY_MEMBER:
        return render_template("users/dashboard_city.html", **_city_dashboard(user))
    if user.role == FINANCE_OFFICER:
        return render_template("users/dashboard_finance.html", **_finance_dashboard(user))
    if user.role == MENTOR:
        return render_template("users/dashboard_mentor.html", **_mentor_dashboard(user))
    if user.role == AUDITOR:
        grants = list(db.session.scalars(scope.list_query(user, {})))
        return render_template(
            "users/dashboard_auditor.html", rows=_grant_rows(user, grants), today=today()
        )
    return render_template("users/dashboard_admin.html", **_admin_dashboard(user))


def _grant_rows(user: User, grants: list[Any]) -> list[dict[str, Any]]:
    return [{"grant": g, "reports_due": proposals.reports_due(g)} for g in grants]


def _city_dashboard(user: User) -> dict[str, Any]:
    city = db.session.get(City, user.city_id)
    current = city.title_on(today()) if city else None
    titles = [title_figures(t, user) for t in city.titles] if city else []
    grants = list(db.session.scalars(scope.list_query(user, {})))
    eligible_message = may_propose(user).reason
    return {
        "city": city,
        "current_title": title_figures(current, user) if current else None,
        "titles": titles,
        "rows": _grant_rows(user, grants),
        "eligible_message": eligible_message,
        "today": today(),
    }


def _finance_dashboard(user: User) -> dict[str, Any]:
    to_confirm = scope.payouts_in_state(user, "authorised")
    return {
        "to_decide": list(db.session.scalars(scope.list_query(user, {"state": "submitted"}))),
        "to_verify": scope.reports_in_state(user, "submitted"),
        "to_authorise": grants_awaiting_payouts(user),
        "to_confirm": [(p, may_confirm_payout(p, user)) for p in to_confirm],
        "rates_awaited": rates_awaited(),
        "accounts_to_verify": [
            (a, may_decide_account(a, "verify", user)) for a in banking.accounts_to_verify()
        ],
        "today": today(),
    }


def _mentor_dashboard(user: User) -> dict[str, Any]:
    cities = []
    for city in user.mentor_cities:
        grants = list(db.session.scalars(scope.list_query(user, {"city_id": city.id})))
        current = city.title_on(today())
        cities.append(
            {
                "city": city,
                "title": title_figures(current, user) if current else None,
                "rows": _grant_rows(user, grants),
            }
        )
    return {"cities": cities, "today": today()}


def _admin_dashboard(user: User) -> dict[str, Any]:
    count = db.session.scalar
    return {
        "counts": {
            "cities": count(select(func.count(City.id))),
            "users": count(select(func.count(User.id))),
            "grants": count(select(func.count(Grant.id))),
        },
        "rows": _grant_rows(user, list(db.session.scalars(scope.list_query(user, {})))),
        "today": today(),
    }


def grants_awaiting_payouts(user: User) -> list[tuple[Grant, list[str]]]:
    """Grants in ``user``'s scope for which a payout can be authorised now, with its kinds."""
    query = scope.list_query(user, {}, figures=True).where(
        Grant.state.in_((APPROVED, FINAL_REPORTED, TERMINATED))
    )
    out = []
    for grant in db.session.scalars(query):
        kinds = authorisable_kinds(grant, grant_figures(grant), user)
        if kinds:
            out.append((grant, kinds))
    return out
