"""HTTP API of cities and their titles."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import select

from grants.cities import services
from grants.cities.models import City
from grants.errors import NotFound
from grants.extensions import db
from grants.http.auth import current_user, endpoint
from grants.http.cities import presenters
from grants.http.cities.schemas import CityCreateSchema, CitySchema, TitleCreateSchema, TitleSchema
from grants.http.schemas import PageQuerySchema, paginate, pagination_headers
from grants.users.models import User
from workflows.grant import ADMIN

blp = Blueprint("cities", __name__, description="Titled cities and their titles")


def load_city(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    city = db.session.get(City, kwargs.pop("city_id"))
    if city is None:
        raise NotFound("No such city.")
    kwargs["city"] = city
    return kwargs


@blp.route("/cities", methods=["POST"])
@blp.doc(operationId="createCity", description="Admins.")
@endpoint(roles=[ADMIN])
@blp.arguments(CityCreateSchema)
@blp.response(201, CitySchema)
def create_city(data: dict[str, Any]) -> Any:
    """Add a city (admins only)."""
    user = current_user()
    return presenters.city_out(services.create_city(data, actor=user), user)


@blp.route("/cities", methods=["GET"])
@blp.doc(
    operationId="listCities",
    description=(
        "Every signed-in user. Money figures of the titles only for roles that may see them."
    ),
)
@endpoint()
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, CitySchema(many=True))
def list_cities(query: dict[str, Any]) -> Any:
    """All cities with their titles; money figures only where you may see them."""
    user = current_user()
    cities, meta = paginate(
        db.session, select(City).order_by(City.name, City.id), query["page"], query["page_size"]
    )
    return presenters.cities_out(cities, user), pagination_headers(meta)


@blp.route("/cities/<int:city_id>", methods=["GET"])
@blp.doc(
    operationId="getCity",
    description="Every signed-in user; money figures only for roles that may see them.",
)
@endpoint(load=load_city)
@blp.response(200, CitySchema)
def get_city(city: City) -> Any:
    """One city with its titles."""
    return presenters.city_out(city, current_user())


@blp.route("/cities/<int:city_id>/titles", methods=["POST"])
@blp.doc(
    operationId="createTitle",
    description=(
        "Admins. `valid_from` ≤ `valid_until` (else 422); two titles of one city may not overlap "
        "(409 title_overlap); `cap` defaults to SEED_MONEY_CAP_EUR."
    ),
)
@endpoint(roles=[ADMIN], load=load_city)
@blp.arguments(TitleCreateSchema)
@blp.response(201, TitleSchema)
def create_title(data: dict[str, Any], city: City) -> Any:
    """Award a title for a year, with its validity and cap (admins only)."""
    user = current_user()
    return presenters.title_figures(services.create_title(city, data, actor=user), user)
