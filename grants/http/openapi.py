"""The OpenAPI document beyond what each view declares, in one place.

flask-smorest documents only what a view declares (its success response, a 422 for its
arguments and a catch-all ``default``). The rules every operation shares live in the app, not in
the views, so they are documented here, by the same rules:

- the error responses of api.md ("Conventions") on every operation where they can occur, each
  with the one error shape ``{code, status, message, errors?, reason?}``, instead of a
  ``default`` that would let any status pass as documented;
- a ``PATCH`` body as optional (none changes nothing, like ``{}``);
- the ``Idempotency-Key`` header of ``POST`` on payouts and on every ``…/transitions``;
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
from marshmallow import Schema, fields

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


class ApiErrorSchema(Schema):
    """Every error of the API (api.md, "Conventions")."""

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
            "otp_enrolment_required on 401 / 403), e.g. invalid_transition, cap_exceeded, stale."
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


def _is_idempotent(path: str) -> bool:
    """api.md, "Retries": POST on payouts and on every …/transitions."""
    return path.endswith("/transitions") or path.endswith("/disbursements")


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
    plugin = ErrorResponsesPlugin()
    plugin.init_spec(api.spec)
    api.spec.plugins.append(plugin)
    api.ma_plugin.converter.add_attribute_function(_field_rules)
