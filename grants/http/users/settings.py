"""Pages: a user's own settings (the time zone the pages show times in)."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from grants.db import utcnow
from grants.http.users.views import bp
from grants.http.web import done, me, page, run_form
from grants.users.settings import set_time_zone, time_zone_names


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
