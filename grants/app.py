"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import (
    Flask,
    Response,
    render_template_string,
    send_from_directory,
    url_for,
)
from werkzeug.routing import IntegerConverter

from exports import models as export_models
from exports.api import blp as exports_api
from exports.views import bp as statements_pages
from grants import audit, lockout
from grants.agreements import models as agreement_models
from grants.banking import models as banking_models
from grants.budget import models as budget_models
from grants.cities import models as city_models
from grants.cli import register_cli
from grants.comments import models as comment_models
from grants.config import load_settings
from grants.connections import engine_options, reads_in_autocommit
from grants.extensions import api, db, migrate
from grants.grant import models as grant_models
from grants.http import idempotency
from grants.http.agreements.api import blp as agreements_api
from grants.http.agreements.views import bp as agreements_pages
from grants.http.banking.api import blp as banking_api
from grants.http.banking.views import bp as banking_pages
from grants.http.bodies import register_body_checks
from grants.http.budget.api import blp as budget_api
from grants.http.budget.views import bp as budget_pages
from grants.http.cities.api import blp as cities_api
from grants.http.cities.views import bp as cities_pages
from grants.http.comments.api import blp as comments_api
from grants.http.comments.views import bp as comments_pages
from grants.http.errors import register_error_handlers
from grants.http.grant.api import blp as grants_api
from grants.http.grant.views import bp as grants_pages
from grants.http.health import register_health
from grants.http.openapi import register_openapi
from grants.http.pages import bp as composite_pages
from grants.http.pages import dashboards, grant  # noqa: F401  (their routes join the blueprint)
from grants.http.payouts.api import blp as payouts_api
from grants.http.payouts.views import bp as payouts_pages
from grants.http.rates.api import blp as rates_api
from grants.http.rates.views import bp as rates_pages
from grants.http.reports.api import blp as reports_api
from grants.http.reports.views import bp as reports_pages
from grants.http.users import settings as user_settings  # noqa: F401  (a users_pages route)
from grants.http.users.api import blp as users_api
from grants.http.users.views import bp as users_pages
from grants.http.web import SECURITY_HEADERS, register_page_helpers
from grants.payouts import models as payout_models
from grants.rates import models as rate_models
from grants.reminders import models as reminder_models
from grants.reports import models as report_models
from grants.users import models as user_models

API_PREFIX = "/api/v1"
ROOT = Path(__file__).resolve().parent.parent

#: The model registry: every module that defines tables, listed once. The app imports them all,
#: so its metadata is complete for ``create_all``, for the schema test and for Alembic's
#: ``migrations/env.py`` (which reads the app's metadata).
MODEL_MODULES = (
    user_models,
    city_models,
    banking_models,
    grant_models,
    agreement_models,
    payout_models,
    report_models,
    comment_models,
    rate_models,
    budget_models,
    reminder_models,
    audit,
    lockout,
    idempotency,
    export_models,
)
#: The JSON API's blueprints and the pages' blueprints, in the order of the API document.
API_BLUEPRINTS = (
    users_api,
    cities_api,
    grants_api,
    agreements_api,
    comments_api,
    rates_api,
    budget_api,
    banking_api,
    payouts_api,
    reports_api,
    exports_api,
)
PAGE_BLUEPRINTS = (
    users_pages,
    composite_pages,
    cities_pages,
    grants_pages,
    agreements_pages,
    comments_pages,
    banking_pages,
    payouts_pages,
    reports_pages,
    rates_pages,
    budget_pages,
    statements_pages,
)

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pearl Grants API reference</title>
<link rel="stylesheet" href="{{ url_for('api_docs_asset', filename='swagger-ui.css') }}">
</head><body>
<div id="swagger-ui" data-spec-url="{{ url_for('api-docs.openapi_json') }}"></div>
<script src="{{ url_for('api_docs_asset', filename='swagger-ui-bundle.js') }}"></script>
<script src="{{ url_for('api_docs_asset', filename='swagger-ui-standalone-preset.js') }}"></script>
<script src="{{ url_for('static', filename='docs/init.js') }}"></script>
</body></html>"""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults → environment → ``config``; extensions; blueprints."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
    )
    # Ids in URLs are 32-bit: a larger number is a 404 like any unknown id, never a DB error.
    app.url_map.converters["int"] = BoundedInt
    # "a//b" (also from "..%2f") matches no route: a 404, never a redirect to another path.
    app.url_map.merge_slashes = False
    overrides = dict(config or {})
    settings = load_settings(
        app.instance_path, overrides, debug=app.debug or bool(overrides.get("DEBUG"))
    )
    app.config.update(settings)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings),
        MAX_CONTENT_LENGTH=(settings["MAX_UPLOAD_MB"] + 1) * 1024 * 1024,
        API_TITLE="Pearl Grants",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Seed money of the BSR Cultural Pearls: proposals, decisions, "
                "payouts, reports and statements. Money is a string with two decimals, in EUR."
            },
            "servers": [{"url": "/"}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
        JSON_SORT_KEYS=False,
    )
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("transitions").setLevel(logging.WARNING)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    api.init_app(app)
    register_openapi(api)  # shared error responses and input rules in the document
    api.register_converter(
        BoundedInt, lambda c: {"type": "integer", "minimum": 0, "maximum": c.max}
    )
    register_body_checks(app)
    app.before_request(reads_in_autocommit)
    _register_api(app)
    _register_docs(app)
    _register_pages(app)
    register_error_handlers(app)
    register_cli(app)
    return app


class BoundedInt(IntegerConverter):
    """An id in a URL: 0 to ``max``, bounded by the route's regex itself.

    Werkzeug converts values only after it has picked a rule, and a value refused then answers
    405 when another rule of the same path has other methods; a number above ``max`` must match
    no rule at all, so that it is a 404 like any unknown id.
    """

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)
        self.regex = _digits_up_to(kwargs["max"])


def _digits_up_to(limit: int) -> str:
    """A regex for the decimal numbers 0 to ``limit``: digits only, no sign, no exponent."""
    digits = str(limit)
    size = len(digits)
    alternatives = [f"[0-9]{{1,{size - 1}}}"] if size > 1 else []
    for i, digit in enumerate(digits):
        low = "0" if i else "1"
        if digit > low:
            below = chr(ord(digit) - 1)
            rest = size - i - 1
            span = f"[{low}-{below}]" if below != low else low
            alternatives.append(digits[:i] + span + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives.append(digits)
    return "(?:" + "|".join(alternatives) + ")"


def _register_api(app: Flask) -> None:
    for blp in API_BLUEPRINTS:
        api.register_blueprint(blp, url_prefix=API_PREFIX)

    register_health(app, API_PREFIX)


def _register_pages(app: Flask) -> None:
    """The HTML pages (Jinja, session sign-in, CSRF) and the security headers of every answer."""
    register_page_helpers(app)
    for bp in PAGE_BLUEPRINTS:
        app.register_blueprint(bp)

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _register_docs(app: Flask) -> None:
    assets = swagger_ui_bundle.swagger_ui_path

    def docs() -> str:
        return render_template_string(DOCS_PAGE)

    def docs_asset(filename: str) -> Any:
        return send_from_directory(assets, filename)

    app.add_url_rule(f"{API_PREFIX}/docs", "api_docs", docs)
    app.add_url_rule(f"{API_PREFIX}/docs/assets/<path:filename>", "api_docs_asset", docs_asset)
    _ = url_for  # used by the template
