"""Pages of the admins: cities and the titles they are awarded."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from grants.cities import services
from grants.cities.models import City
from grants.errors import NotFound
from grants.extensions import db
from grants.http.cities import presenters
from grants.http.cities.schemas import CityCreateSchema, TitleCreateSchema
from grants.http.web import done, drop_blank, me, page, run_form
from grants.users.models import User
from workflows.grant import ADMIN

bp = Blueprint("cities_pages", __name__)


@bp.route("/admin/cities", methods=["GET", "POST"])
@page(roles=[ADMIN])
def cities() -> Any:
    form: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form = {
            "name": request.form.get("name", "").strip(),
            "country": request.form.get("country", "").strip().upper(),
            "population": request.form.get("population", "").strip(),
        }
        raw = drop_blank(form, optional_none=("population",))
        if isinstance(raw.get("population"), str) and raw["population"].isdigit():
            raw["population"] = int(raw["population"])
        raw["is_capital"] = request.form.get("is_capital") == "y"
        city, errors, status = run_form(
            lambda: services.create_city(CityCreateSchema().load(raw), actor=me())
        )
        if status == 200:
            done(f"{city.name} added. Award it a title below.")
            return redirect(url_for("cities_pages.city", city_id=city.id))
    user = me()
    rows = [
        {"city": c, "titles": [presenters.title_figures(t, user) for t in c.titles]}
        for c in db.session.scalars(select(City).order_by(City.name, City.id))
    ]
    return render_template("cities/cities.html", rows=rows, form=form, errors=errors), status


@bp.route("/admin/cities/<int:city_id>", methods=["GET", "POST"])
@page(roles=[ADMIN])
def city(city_id: int) -> Any:
    city = db.session.get(City, city_id)
    if city is None:
        raise NotFound("No such city.")
    form: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form = {
            key: request.form.get(key, "").strip()
            for key in ("year", "valid_from", "valid_until", "cap")
        }
        raw = drop_blank(form)
        title, errors, status = run_form(
            lambda: services.create_title(city, TitleCreateSchema().load(raw), actor=me())
        )
        if status == 200:
            done(f"Title {title.year} awarded to {city.name}.")
            return redirect(url_for("cities_pages.city", city_id=city.id))
    user = me()
    titles = [presenters.title_figures(t, user) for t in city.titles]
    mentors = [u for u in _mentors() if city in u.mentor_cities]
    return (
        render_template(
            "cities/city.html", city=city, titles=titles, mentors=mentors, form=form, errors=errors
        ),
        status,
    )


def _mentors() -> list[Any]:
    return list(db.session.scalars(select(User).where(User.role == "mentor").order_by(User.email)))
