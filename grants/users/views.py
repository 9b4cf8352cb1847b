"""Pages: sign in and out, each role's dashboard, and the admins' user management."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from grants.auth import verify_credentials
from grants.cities.models import City
from grants.cities.services import title_figures
from grants.db import today
from grants.disbursements import services as payouts
from grants.errors import AppError, NotFound, TooManyAttempts
from grants.extensions import db
from grants.proposals import services as proposals
from grants.reports import services as reports
from grants.users import services
from grants.users.models import User
from grants.users.schemas import TokenRequestSchema, UserCreateSchema, UserPatchSchema
from grants.web import (
    as_int,
    flat_errors,
    me,
    page,
    run_form,
    safe_next,
    sign_in,
    sign_out,
    signed_in_user,
)
from workflows.grant import ADMIN, AUDITOR, CITY_MEMBER, FINANCE_OFFICER, MENTOR, ROLES

bp = Blueprint("users_pages", __name__)


@bp.route("/")
def home() -> Any:
    if signed_in_user() is None:
        return redirect(url_for("users_pages.login"))
    return redirect(url_for("users_pages.dashboard"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in form; the same credentials check (and lockout) as the API's tokens."""
    next_url = request.values.get("next")
    if request.method == "GET":
        if signed_in_user() is not None:
            return redirect(safe_next(next_url))
        return render_template("users/login.html", next_url=next_url, errors={}, email="")
    email = request.form.get("email", "").strip()
    errors: dict[str, list[str]] = {}
    message, status = None, 200
    try:
        data = TokenRequestSchema().load(
            {"email": email, "password": request.form.get("password", "")}
        )
        user = verify_credentials(data["email"], data["password"])
        if user is None:
            message, status = "Unknown email or wrong password.", 401
    except ValidationError as exc:
        errors, status = flat_errors(exc.messages), 422
    except TooManyAttempts as exc:
        message, status = exc.message, exc.code
    if status != 200:
        db.session.rollback()
        return (
            render_template(
                "users/login.html", next_url=next_url, errors=errors, email=email, message=message
            ),
            status,
        )
    db.session.commit()
    sign_in(user)
    flash(f"Signed in as {user.email}.", "success")
    return redirect(safe_next(next_url))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    sign_out()
    flash("You have signed out.", "success")
    return redirect(url_for("users_pages.login"))


# ---------------------------------------------------------------------------------------------
# Dashboards


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
        grants = list(db.session.scalars(proposals.list_query(user, {})))
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
    grants = list(db.session.scalars(proposals.list_query(user, {})))
    eligible_message = None
    try:
        proposals.check_can_propose(user)
    except AppError as exc:
        eligible_message = exc.message
    return {
        "city": city,
        "current_title": title_figures(current, user) if current else None,
        "titles": titles,
        "rows": _grant_rows(user, grants),
        "eligible_message": eligible_message,
        "today": today(),
    }


def _finance_dashboard(user: User) -> dict[str, Any]:
    to_confirm = payouts.payouts_in_state(user, "authorised")
    return {
        "to_decide": list(db.session.scalars(proposals.list_query(user, {"state": "submitted"}))),
        "to_verify": reports.reports_in_state(user, "submitted"),
        "to_authorise": payouts.grants_awaiting_payouts(user),
        "to_confirm": [(p, payouts.can_confirm(p, user)) for p in to_confirm],
        "today": today(),
    }


def _mentor_dashboard(user: User) -> dict[str, Any]:
    cities = []
    for city in user.mentor_cities:
        grants = list(db.session.scalars(proposals.list_query(user, {"city_id": city.id})))
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
    from sqlalchemy import func

    from grants.proposals.models import Grant

    count = db.session.scalar
    return {
        "counts": {
            "cities": count(select(func.count(City.id))),
            "users": count(select(func.count(User.id))),
            "grants": count(select(func.count(Grant.id))),
        },
        "rows": _grant_rows(user, list(db.session.scalars(proposals.list_query(user, {})))),
        "today": today(),
    }


# ---------------------------------------------------------------------------------------------
# Users (admins)


def _user_form_context(**extra: Any) -> dict[str, Any]:
    cities = list(db.session.scalars(select(City).order_by(City.name, City.id)))
    return {"cities": cities, "roles": ROLES, **extra}


@bp.route("/admin/users", methods=["GET", "POST"])
@page(roles=[ADMIN])
def users() -> Any:
    form: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form = {
            "email": request.form.get("email", "").strip(),
            "password": request.form.get("password", ""),
            "role": request.form.get("role", ""),
            "city_id": request.form.get("city_id", ""),
            "mentor_city_ids": request.form.getlist("mentor_city_ids"),
        }
        raw: dict[str, Any] = {k: v for k, v in form.items() if v not in ("", [])}
        if "city_id" in raw:
            raw["city_id"] = as_int(raw["city_id"])
        if "mentor_city_ids" in raw:
            raw["mentor_city_ids"] = [as_int(v) for v in raw["mentor_city_ids"]]
        user, errors, status = run_form(
            lambda: services.create_user(UserCreateSchema().load(raw), actor=me())
        )
        if status == 200:
            flash(f"User {user.email} created.", "success")
            return redirect(url_for("users_pages.users"))
    everyone = list(db.session.scalars(select(User).order_by(User.role, User.email)))
    return (
        render_template(
            "users/users.html", **_user_form_context(users=everyone, form=form, errors=errors)
        ),
        status,
    )


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@page(roles=[ADMIN])
def user_detail(user_id: int) -> Any:
    target = db.session.get(User, user_id)
    if target is None:
        raise NotFound("No such user.")
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        raw: dict[str, Any] = {"is_active": request.form.get("is_active") == "y"}
        if request.form.get("password"):
            raw["password"] = request.form["password"]
        if "role" in request.form:
            raw["role"] = request.form["role"]
        if "city_id" in request.form:
            raw["city_id"] = as_int(request.form["city_id"])
        if target.role == MENTOR and raw.get("role", MENTOR) == MENTOR:
            raw["mentor_city_ids"] = [as_int(v) for v in request.form.getlist("mentor_city_ids")]
        _, errors, status = run_form(
            lambda: services.update_user(target, UserPatchSchema().load(raw), actor=me())
        )
        if status == 200:
            flash(f"User {target.email} saved.", "success")
            return redirect(url_for("users_pages.user_detail", user_id=target.id))
    return (
        render_template("users/user.html", **_user_form_context(target=target, errors=errors)),
        status,
    )
