"""Pages: a user's own settings (the time zone the pages show times in), and an admin's
setting of another user's time zone."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from grants.db import utcnow
from grants.errors import NotFound
from grants.extensions import db
from grants.http.users.views import bp
from grants.http.web import act, done, me, page, run_form
from grants.users.models import User
from grants.users.settings import set_time_zone, time_zone_names
from workflows.grant import ADMIN


@bp.route("/settings", methods=["GET", "POST"])
@page()
def settings() -> Any:
    """Any signed-in user's own settings; an unknown time zone is refused beside the field."""
    user = me()
    errors: dict[str, list[str]] = {}
    status = 200
    typed = user.time_zone or ""
    if request.method == "POST":
        typed = request.form.get("time_zone", "").strip()
        _, errors, status = run_form(lambda: set_time_zone(user, typed, actor=user))
        if status == 200:
            zone = user.time_zone
            done(f"Times are now shown in {zone}." if zone else "Times now follow your browser.")
            return redirect(url_for("users_pages.settings"))
    return (
        render_template(
            "users/settings.html",
            zones=time_zone_names(),
            typed=typed,
            errors=errors,
            now=utcnow(),
        ),
        status,
    )


@bp.route("/admin/users/<int:user_id>/time-zone", methods=["POST"])
@page(roles=[ADMIN])
def user_time_zone(user_id: int) -> Any:
    """An admin sets another user's time zone (the same check and audit as the user's own)."""
    target = db.session.get(User, user_id)
    if target is None:
        raise NotFound("No such user.")
    typed = request.form.get("time_zone", "").strip()
    return act(
        lambda: set_time_zone(target, typed, actor=me()),
        success=f"Times of {target.email} are now shown in "
        + (typed if typed else "the browser's time zone")
        + ".",
        back=url_for("users_pages.user_detail", user_id=target.id, _anchor="time-zone"),
    )
