"""Pages: sign in and out, each role's dashboard, and the admins' user management."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from grants.cities.models import City
from grants.errors import NotFound, TooManyAttempts
from grants.extensions import db
from grants.http.users.schemas import TokenRequestSchema, UserCreateSchema, UserPatchSchema
from grants.http.web import (
    as_int,
    done,
    flat_errors,
    me,
    page,
    run_form,
    safe_next,
    sign_in,
    sign_out,
    signed_in_user,
)
from grants.users import services
from grants.users.credentials import verify_credentials
from grants.users.models import User
from workflows.grant import (
    ADMIN,
    MENTOR,
    ROLES,
)

bp = Blueprint("users_pages", __name__)


@bp.route("/login", methods=["GET", "POST"])
@page(public=True)
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
    if status != 200:  # answered 4xx: the page's boundary undoes whatever was begun
        return (
            render_template(
                "users/login.html", next_url=next_url, errors=errors, email=email, message=message
            ),
            status,
        )
    sign_in(user)
    done(f"Signed in as {user.email}.")
    return redirect(safe_next(next_url))


@bp.route("/logout", methods=["POST"])
@page(public=True)
def logout() -> Any:
    sign_out()
    done("You have signed out.")
    return redirect(url_for("users_pages.login"))


# ---------------------------------------------------------------------------------------------
# Dashboards


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
            done(f"User {user.email} created.")
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
    form: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        # What was sent, shown again as it was if the change is refused.
        form = {
            "is_active": request.form.get("is_active") == "y",
            "role": request.form.get("role", target.role),
            "city_id": request.form.get("city_id", ""),
            "mentor_city_ids": request.form.getlist("mentor_city_ids"),
        }
        raw: dict[str, Any] = {"is_active": form["is_active"]}
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
            done(f"User {target.email} saved.")
            return redirect(url_for("users_pages.user_detail", user_id=target.id))
    return (
        render_template(
            "users/user.html", **_user_form_context(target=target, form=form, errors=errors)
        ),
        status,
    )
