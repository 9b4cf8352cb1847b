"""Pages: the monthly exchange rates (InforEuro), read by all, set by finance and admins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from grants.db import today
from grants.http.rates.schemas import RatePathSchema, RatePutSchema, RateQuerySchema
from grants.http.web import done, me, page, run_form
from grants.rates import services
from grants.rates.policies import may_edit_rates
from grants.reports.awaited import rates_awaited

bp = Blueprint("rates_pages", __name__)


@bp.route("/rates", methods=["GET", "POST"])
@page()
def rates() -> Any:
    user = me()
    # A link from the dashboard's "Exchange rates awaited" fills the month and currency in.
    form: dict[str, str] = {
        "month": request.args.get("month", "").strip() or today().strftime("%Y-%m"),
        "currency": request.args.get("currency", "").strip().upper(),
    }
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        may_edit_rates(user).enforce()
        form = {
            "month": request.form.get("month", "").strip(),
            "currency": request.form.get("currency", "").strip().upper(),
            "rate": request.form.get("rate", "").strip(),
        }

        def run() -> Any:
            path = RatePathSchema().load({"month": form["month"], "currency": form["currency"]})
            data = RatePutSchema().load({"rate": form["rate"]})
            return services.set_rate(path["month"], path["currency"], data["rate"], actor=user)

        _, errors, status = run_form(run)
        if status == 200:
            done(f"Rate of {form['currency']} for {form['month']} saved.")
            return redirect(url_for("rates_pages.rates", month=form["month"]))
    filters = {k: v for k, v in request.args.items() if k == "month" and v}
    try:
        query = RateQuerySchema().load(filters)
    except ValidationError:
        flash("The month filter should look like 2025-03.", "error")
        query = {}
    return (
        render_template(
            "rates/rates.html",
            rates=services.list_rates(query),
            month=query.get("month", ""),
            can_edit=may_edit_rates(user),
            # Which reports wait for which rate: for those who may set them (it names reports).
            awaited=rates_awaited() if may_edit_rates(user).allowed else [],
            form=form,
            errors=errors,
        ),
        status,
    )
