"""Pages: the programme budget per title year, read by finance, auditors and admins, set by
admins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from grants.budget import services
from grants.budget.policies import READERS, may_set_budget
from grants.errors import NotFound
from grants.figures import title_years, year_figures
from grants.http.budget.schemas import YEARS, BudgetPutSchema
from grants.http.web import done, me, page, run_form
from grants.money import format_money, typed_amount

bp = Blueprint("budget_pages", __name__)


@bp.route("/title-years")
@page(roles=READERS)
def years() -> Any:
    return render_template(
        "budget/years.html", years=[year_figures(year) for year in title_years()]
    )


@bp.route("/title-years/<int:year>", methods=["GET", "POST"])
@page(roles=READERS)
def year(year: int) -> Any:
    user = me()
    if not YEARS.min <= year <= YEARS.max:
        raise NotFound("No such title year.")
    errors: dict[str, list[str]] = {}
    status = 200
    form: dict[str, str] = {}
    if request.method == "POST":
        may_set_budget(user).enforce()
        form = {"budget": request.form.get("budget", "").strip()}

        def run() -> Any:
            data = BudgetPutSchema().load({"budget": typed_amount(form["budget"])})
            return services.set_budget(year, data["budget"], actor=user)

        saved, errors, status = run_form(run)
        if status == 200:
            done(f"The programme budget of {year} is {format_money(saved.budget_cents)} EUR.")
            return redirect(url_for("budget_pages.year", year=year))
    figures = year_figures(year)
    if not form and figures.budget is not None:
        form = {"budget": format_money(figures.budget) or ""}
    return (
        render_template(
            "budget/year.html",
            figures=figures,
            can_set=may_set_budget(user),
            form=form,
            errors=errors,
        ),
        status,
    )
