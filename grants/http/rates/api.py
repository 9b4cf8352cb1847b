"""HTTP API of monthly exchange rates."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from grants.http.auth import current_user, endpoint
from grants.http.rates.schemas import RatePathSchema, RatePutSchema, RateQuerySchema, RateSchema
from grants.rates import services
from workflows.grant import ADMIN, FINANCE_OFFICER

blp = Blueprint("exchange-rates", __name__, description="Monthly exchange rates (InforEuro)")


@blp.route("/exchange-rates/<month>/<currency>", methods=["PUT"])
@blp.doc(
    operationId="putExchangeRate",
    description=(
        "Admins and finance officers. The rate is units of the currency per 1 EUR, a decimal "
        "string > 0 with up to 6 decimals; an existing rate is replaced."
    ),
)
@endpoint(roles=[ADMIN, FINANCE_OFFICER])
@blp.arguments(RatePathSchema, location="path")
@blp.arguments(RatePutSchema)
@blp.response(200, RateSchema)
def put_rate(path: dict[str, Any], data: dict[str, Any], month: str, currency: str) -> Any:
    """Set the rate of a currency for a month: units of the currency per 1 EUR."""
    return services.set_rate(path["month"], path["currency"], data["rate"], actor=current_user())


@blp.route("/exchange-rates", methods=["GET"])
@blp.doc(operationId="listExchangeRates", description="Every signed-in user.")
@endpoint()
@blp.arguments(RateQuerySchema, location="query")
@blp.response(200, RateSchema(many=True))
def list_rates(query: dict[str, Any]) -> Any:
    """The known rates, optionally of one month (``?month=YYYY-MM``) or currency."""
    return services.list_rates(query)
