"""The OpenAPI document beyond what each view declares, in one place.

flask-smorest documents only what a view declares (its success response, a 422 for its
arguments and a catch-all ``default``). The rules every operation shares live in the app, not in
the views, so they are documented here, by the same rules:

- the error responses of api.md ("Conventions") on every operation where they can occur, each
  with the one error shape ``{code, status, message, errors?, reason?}``, instead of a
  ``default`` that would let any status pass as documented;
- a ``PATCH`` body as optional (none changes nothing, like ``{}``);
- the ``Idempotency-Key`` header of ``POST`` on payouts and on every ``…/transitions``;
- the ``X-Pagination`` header of every paginated list (an operation with a ``page`` query);
- an example of every JSON request body (:data:`REQUEST_EXAMPLES`, by the body's schema name);
- a multipart upload's form fields inside its ``multipart/form-data`` body (flask-smorest writes
  them as Swagger 2 ``in: formData`` parameters, which OpenAPI 3 does not have);
- the text, money and date rules of the input fields, so that what the document calls valid is
  what the service accepts (a rule across fields, e.g. ``end_date`` before ``start_date``, cannot
  be written in a schema and stays a 422).

:func:`register_openapi` is called once per app, after ``api.init_app`` and before the
blueprints are registered (apispec runs plugins when a path is added).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from apispec import APISpec, BasePlugin
from flask_smorest import Api
from marshmallow import INCLUDE, Schema, fields

from grants.http.schemas import Day, InputSchema, Money, Text

#: What a text field refuses, as a JSON Schema pattern (ECMA-262): C0 and C1 controls and DEL;
#: multi-line fields take tab, LF and CR. (Unpaired surrogates cannot be written in a JSON
#: Schema pattern, nor sent in valid UTF-8; the service refuses them too, see grants.http.schemas.)
TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
MULTILINE_TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
#: A date `YYYY-MM-DD` with a year from 2000 to 2100, a month 01-12 and a day 01-31.
DATE_IN_RANGE_PATTERN = "^(?:20[0-9]{2}|2100)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"
#: Money that must be greater than zero: the money pattern, but not a zero amount.
ZERO_MONEY_PATTERN = "^0+\\.00$"
IDEMPOTENCY_KEY_PATTERN = "^[\\x21-\\x7e]{1,255}$"

BODY_METHODS = frozenset({"post", "put", "patch", "delete"})


#: The stable reasons of api.md ("Conventions", "Errors"), in its order, and ``title_overlap``
#: (two titles of one city that overlap, a 409 api.md names without a reason). A reason the
#: service gives must be here (tests/test_openapi_document.py), or a typed client would refuse
#: the answer.
REASONS = (
    "invalid_transition",
    "cap_exceeded",
    "city_not_eligible",
    "four_eyes",
    "rate_missing",
    "over_approved",
    "money_owed",
    "not_ready",
    "idempotency_mismatch",
    "idempotency_in_progress",
    "stale",
    "conflict",
    "agreement_missing",
    "account_unverified",
    "account_changed",
    "budget_exceeded",
    "checklist_incomplete",
    "amendment_open",
    "otp_required",
    "otp_enrolment_required",
    "title_overlap",
)


class ApiErrorSchema(Schema):
    """Every error of the API (api.md, "Conventions").

    Open to fields added later (``additionalProperties``), so that an older typed client keeps
    reading a newer service's errors.
    """

    class Meta:
        unknown = INCLUDE

    code = fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    status = fields.String(required=True, metadata={"description": "The HTTP status phrase."})
    message = fields.String(required=True, metadata={"description": "What went wrong."})
    errors = fields.Dict(
        keys=fields.String(),
        metadata={"description": "For 422: location (json, query, headers, …) → field → messages."},
    )
    reason = fields.String(
        metadata={
            "description": "A stable reason for a 409 (and otp_required / "
            "otp_enrolment_required on 401 / 403), e.g. invalid_transition, cap_exceeded, stale.",
            "enum": list(REASONS),
        }
    )


def _response_name(code: int) -> str:
    return f"ERROR_{code}"


def statuses_for(method: str, path: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses of api.md that this operation can answer."""
    method = method.lower()
    public = operation.get("security") == []
    has_body = "requestBody" in operation
    upload = has_body and "multipart/form-data" in operation["requestBody"].get("content", {})
    codes = [401]  # a missing or bad token; a wrong password on POST /auth/tokens
    if not public:
        codes.append(403)  # the role may not, or otp_enrolment_required
    if method in BODY_METHODS:
        codes += [400, 413]  # malformed JSON, or a JSON body above MAX_JSON_KB
    if "{" in path or has_body:
        codes.append(404)  # an unknown id, or one outside the caller's scope
    # 409: a business refusal, or `stale` (a lost race, a lock wait that ran out: on SQLite
    # every transaction may wait for the write lock).
    codes.append(409)
    if upload:
        codes.append(415)
    codes.append(422)  # body, query, path or header values
    if public:
        codes.append(429)  # sign-in lockout
    codes.append(503)  # the database (or Redis, for what needs it) is down: retry after a while
    return sorted(set(codes))


class ErrorResponsesPlugin(BasePlugin):
    """Document the shared error responses and rules on every operation as it is added."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        self.spec = spec
        spec.components.schema("ApiError", schema=ApiErrorSchema)
        for status in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503):
            response: dict[str, Any] = {
                "description": HTTPStatus(status).phrase,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}
                },
            }
            if status == 503:
                response["description"] += ": a dependency is down; retry after Retry-After"
                response["headers"] = {
                    "Retry-After": {
                        "description": "Seconds to wait before retrying.",
                        "schema": {"type": "integer", "minimum": 1},
                    }
                }
            spec.components.response(_response_name(status), response)
        spec.components.parameter(
            "IdempotencyKey",
            "header",
            {
                "name": "Idempotency-Key",
                "required": False,
                "description": "Makes a retry safe: the same key with the same body replays the "
                "first response; with another body 409 idempotency_mismatch (api.md, "
                '"Retries"). 1 to 255 printable ASCII characters, else 422.',
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
            },
        )

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.pop("default", None)
            for code in statuses_for(method, path or "", operation):
                # Our own error shape replaces flask-smorest's (which has no `reason`).
                responses[str(code)] = _response_name(code)
            if method == "patch" and "requestBody" in operation:
                # No body changes nothing, like `{}` (api.md: an empty PATCH records nothing).
                operation["requestBody"]["required"] = False
            if method == "post" and _is_idempotent(path or ""):
                operation.setdefault("parameters", []).append("IdempotencyKey")
            _form_fields_into_body(operation, self.spec)
            _add_example(operation)
            if any(_is_page_parameter(p) for p in operation.get("parameters", [])):
                ok = responses.get(200, responses.get("200"))  # flask-smorest: int codes
                if isinstance(ok, dict):
                    ok.setdefault("headers", {})["X-Pagination"] = PAGINATION_HEADER


#: api.md, "Lists": the metadata of a page, as JSON in a header.
PAGINATION_HEADER: dict[str, Any] = {
    "description": 'The page as JSON: {"total": …, "total_pages": …, "page": …, "page_size": '
    "…} (integers; total_pages is 0 when total is 0).",
    "required": True,
    "schema": {
        "type": "string",
        "example": '{"total": 42, "total_pages": 3, "page": 1, "page_size": 20}',
    },
}


_NARRATIVE = {
    "activities": "Three story evenings at the harbour, recorded and put online.",
    "participants": "About 120 residents, a third of them new to the library.",
    "community_connections": "The sailing club and two schools joined.",
    "cooperation": "Exchanged formats with our partner Pearl in Latvia.",
    "trust": "Neighbours who had never met now run the next evening themselves.",
}
_EXPENSE = {
    "invoice_number": "INV-2026-031",
    "invoice_date": "2026-03-02",
    "payment_date": "2026-03-10",
    "supplier": "Havnens Lydstudie ApS",
    "description": "Recording of the three evenings",
    "category": "services",
    "currency": "DKK",
    "amount": "3730.20",
    "vat_amount": "746.04",
    "vat_recoverable": False,
}
_BUDGET = [
    {"category": "fees", "description": "Storyteller fees", "amount": "1500.00"},
    {"category": "venue", "description": "Harbour hall, three evenings", "amount": "900.00"},
]
#: An example of each JSON request body, by the name of its schema (checked against the schema
#: in tests/test_openapi_document.py). Dates of payments lie in the past: they may not lie ahead.
REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    # B105: example passwords of the document, no credentials
    "TokenRequest": {"email": "finance@pearl.example", "password": "your pass phrase"},  # nosec B105
    "UserCreate": {
        "email": "harbour.team@pearl.example",
        "password": "a long pass phrase",  # nosec B105
        "role": "city_member",
        "city_id": 1,
    },
    "UserPatch": {"is_active": False},
    "CityCreate": {"name": "Svendborg", "country": "DK", "population": 27000, "is_capital": False},
    "TitleCreate": {
        "year": 2027,
        "valid_from": "2027-01-01",
        "valid_until": "2027-12-31",
        "cap": "5000.00",
    },
    "GrantCreate": {
        "title": "Harbour stories",
        "summary": "Neighbours tell the harbour's history, one evening a month.",
        "start_date": "2027-02-01",
        "end_date": "2027-06-30",
        "budget_lines": _BUDGET,
    },
    "GrantPatch": {"summary": "Neighbours tell the harbour's history, two evenings a month."},
    "GrantTransition": {
        "event": "approve",
        "approved_amount": "2200.00",
        "comment": "Approved; the venue is covered by the town.",
    },
    "CommentCreate": {"body": "Could you add the school's letter?", "visibility": "shared"},
    "RatePut": {"rate": "7.4604"},
    "BankAccountCreate": {
        "holder": "Rūjienas novada pašvaldība",
        "iban": "LV80 BANK 0000 4351 9500 1",
        "bic": "BANKLV2X",
    },
    "BankAccountTransition": {"event": "verify"},
    "BudgetPut": {"budget": "60000.00"},
    "AgreementTransition": {"event": "sign", "signatory_name": "Agnieszka Wójcik"},
    "PayoutCreate": {"kind": "advance"},
    "PayoutTransition": {
        "event": "confirm_paid",
        "paid_on": "2026-03-02",
        "payment_reference": "NDEA-2026-000417",
    },
    "ReportCreate": {"kind": "interim", "narrative": _NARRATIVE, "expenses": [_EXPENSE]},
    "ReportPatch": {"narrative": _NARRATIVE, "expenses": [_EXPENSE]},
    "ReportTransition": {
        "event": "accept",
        "adjustments": [
            {
                "expense_id": 1,
                "eligible_eur": "400.00",
                "reason": "Only part of it was for the pilot.",
            }
        ],
    },
    "ExportCreate": {"kind": "grant_statement", "grant_id": 1},
}


def _add_example(operation: dict[str, Any]) -> None:
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not isinstance(media, dict) or "example" in media:
        return
    ref = (media.get("schema") or {}).get("$ref", "")
    example = REQUEST_EXAMPLES.get(ref.rsplit("/", 1)[-1])
    if example is not None:
        media["example"] = example


def _is_page_parameter(parameter: Any) -> bool:
    return (
        isinstance(parameter, dict)
        and parameter.get("in") == "query"
        and (parameter.get("name") == "page")
    )


def _form_fields_into_body(operation: dict[str, Any], spec: APISpec) -> None:
    """Move Swagger 2 ``formData`` parameters into the operation's multipart body schema.

    The body's schema is written inline (a copy of the files schema and the form fields), as
    one object: the service reads both parts of the one multipart body.
    """
    parameters = operation.get("parameters", [])
    form = [p for p in parameters if isinstance(p, dict) and p.get("in") == "formData"]
    if not form:
        return
    operation["parameters"] = [p for p in parameters if p not in form]
    content = operation.setdefault("requestBody", {"required": True}).setdefault("content", {})
    media = content.setdefault("multipart/form-data", {})
    schema = dict(media.get("schema") or {"type": "object"})
    if "$ref" in schema:
        schema = dict(spec.components.schemas[schema["$ref"].rsplit("/", 1)[-1]])
    properties = dict(schema.get("properties", {}))
    required = list(schema.get("required", []))
    for parameter in form:
        properties[parameter["name"]] = parameter.get("schema", {"type": "string"})
        if parameter.get("required"):
            required.append(parameter["name"])
    schema["properties"] = properties
    if required:
        schema["required"] = sorted(set(required))
    media["schema"] = schema


def _is_idempotent(path: str) -> bool:
    """api.md, "Retries": POST on payouts and on every …/transitions (and, as the service
    honours it there too, on a bank-account proposal)."""
    return path.endswith(("/transitions", "/disbursements", "/bank-accounts"))


def _field_rules(converter: Any, field: Any, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The text, money and date rules of ``grants.http.schemas`` fields, as JSON Schema."""
    extra: dict[str, Any] = {}
    if not isinstance(field.root, InputSchema):
        return extra  # answers may hold what older rules let in; only inputs are constrained
    if isinstance(field, Text) and "pattern" not in ret and "enum" not in ret:
        extra["pattern"] = MULTILINE_TEXT_PATTERN if field.multiline else TEXT_PATTERN
    elif isinstance(field, Money) and not field.allow_zero:
        extra["not"] = {"pattern": ZERO_MONEY_PATTERN}
    elif isinstance(field, Day):
        extra["pattern"] = DATE_IN_RANGE_PATTERN
    return extra


def register_openapi(api: Api) -> None:
    """Add this module's plugin and field rules to ``api.spec`` (before blueprints)."""
    # flask-smorest's own error and pagination schemas: ApiError and X-Pagination replace them.
    api.spec.components.schemas.pop("Error", None)
    api.spec.components.schemas.pop("PaginationMetadata", None)
    plugin = ErrorResponsesPlugin()
    plugin.init_spec(api.spec)
    api.spec.plugins.append(plugin)
    api.ma_plugin.converter.add_attribute_function(_field_rules)
