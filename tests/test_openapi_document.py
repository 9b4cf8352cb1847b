"""The API document an integrator's tools accept (issue 12).

Valid OpenAPI 3 by openapi-spec-validator; every operation with a stable operationId, a tag,
a summary and a description; every response with its schema (errors with ``reason`` as an
enum of api.md's reasons), the ``X-Pagination``, ``Location`` and ``Idempotency-Key`` headers,
the downloads' media types, examples of the bodies that their schemas accept, and enums and
patterns for states, events, kinds, money, rates and dates.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from exports.api import XLSX
from exports.models import KINDS as EXPORT_KINDS
from exports.models import STATUSES as EXPORT_STATUSES
from grants.errors import AppError
from grants.http.openapi import REASONS, REQUEST_EXAMPLES
from grants.money import MONEY_PATTERN
from grants.reports import receipts
from workflows.grant import GRANT, ROLES, STATES
from workflows.payout import KINDS as PAYOUT_KINDS
from workflows.payout import STATES as PAYOUT_STATES
from workflows.report import KINDS as REPORT_KINDS
from workflows.report import STATES as REPORT_STATES

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

#: Stable: a client's method names come from these; renaming one breaks every client.
OPERATION_IDS = {
    ("post", "/api/v1/auth/tokens"): "createToken",
    ("delete", "/api/v1/auth/tokens/current"): "revokeToken",
    ("get", "/api/v1/users/me"): "getCurrentUser",
    ("post", "/api/v1/users"): "createUser",
    ("get", "/api/v1/users"): "listUsers",
    ("get", "/api/v1/users/{user_id}"): "getUser",
    ("patch", "/api/v1/users/{user_id}"): "updateUser",
    ("post", "/api/v1/cities"): "createCity",
    ("get", "/api/v1/cities"): "listCities",
    ("get", "/api/v1/cities/{city_id}"): "getCity",
    ("post", "/api/v1/cities/{city_id}/titles"): "createTitle",
    ("post", "/api/v1/grants"): "createGrant",
    ("get", "/api/v1/grants"): "listGrants",
    ("get", "/api/v1/grants/{grant_id}"): "getGrant",
    ("patch", "/api/v1/grants/{grant_id}"): "updateGrant",
    ("post", "/api/v1/grants/{grant_id}/transitions"): "fireGrantEvent",
    ("get", "/api/v1/grants/{grant_id}/history"): "getGrantHistory",
    ("get", "/api/v1/grants/{grant_id}/agreement"): "getAgreement",
    ("get", "/api/v1/grants/{grant_id}/agreement/file"): "downloadAgreement",
    ("post", "/api/v1/grants/{grant_id}/agreement/transitions"): "fireAgreementEvent",
    ("post", "/api/v1/grants/{grant_id}/comments"): "addComment",
    ("get", "/api/v1/grants/{grant_id}/comments"): "listComments",
    ("put", "/api/v1/exchange-rates/{month}/{currency}"): "putExchangeRate",
    ("get", "/api/v1/exchange-rates"): "listExchangeRates",
    ("put", "/api/v1/title-years/{year}/budget"): "putTitleYearBudget",
    ("get", "/api/v1/title-years/{year}"): "getTitleYear",
    ("get", "/api/v1/cities/{city_id}/bank-accounts"): "listBankAccounts",
    ("post", "/api/v1/cities/{city_id}/bank-accounts"): "proposeBankAccount",
    ("post", "/api/v1/bank-accounts/{account_id}/transitions"): "fireBankAccountEvent",
    ("post", "/api/v1/grants/{grant_id}/disbursements"): "authorisePayout",
    ("get", "/api/v1/grants/{grant_id}/disbursements"): "listPayouts",
    ("get", "/api/v1/disbursements/{payout_id}"): "getPayout",
    ("post", "/api/v1/disbursements/{payout_id}/transitions"): "firePayoutEvent",
    ("post", "/api/v1/grants/{grant_id}/reports"): "createReport",
    ("get", "/api/v1/grants/{grant_id}/reports"): "listReports",
    ("get", "/api/v1/reports/{report_id}"): "getReport",
    ("patch", "/api/v1/reports/{report_id}"): "updateReport",
    ("post", "/api/v1/reports/{report_id}/transitions"): "fireReportEvent",
    ("post", "/api/v1/reports/{report_id}/attachments"): "uploadReceipt",
    ("get", "/api/v1/attachments/{attachment_id}"): "downloadReceipt",
    ("post", "/api/v1/exports"): "requestExport",
    ("get", "/api/v1/exports"): "listExports",
    ("get", "/api/v1/exports/{export_id}"): "getExport",
    ("get", "/api/v1/exports/{export_id}/file"): "downloadExport",
}
PAGINATED = {"listUsers", "listCities", "listGrants", "listExports"}
IDEMPOTENT = {
    "fireGrantEvent",
    "authorisePayout",
    "firePayoutEvent",
    "fireReportEvent",
    "fireAgreementEvent",
    "proposeBankAccount",
    "fireBankAccountEvent",
}


@pytest.fixture(scope="module")
def doc(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(doc: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    found = {}
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                found[op.get("operationId") or f"{method} {path}"] = (method, path, op)
    return found


def resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        kind = node["$ref"].split("/")[2]
        node = doc["components"][kind][name]
    return node


def schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return doc["components"]["schemas"][name]


def test_the_document_is_valid_openapi_3(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.")
    validate(doc)  # raises on the first error
    assert "formData" not in str(doc)


def test_every_operation_has_a_stable_id_a_tag_a_summary_and_a_description(
    doc: dict[str, Any],
) -> None:
    seen = {(m, p): op.get("operationId") for _, (m, p, op) in operations(doc).items()}
    assert seen == OPERATION_IDS
    tags = {t["name"] for t in doc["tags"]}
    for method, path, op in operations(doc).values():
        assert re.fullmatch(r"[a-z][A-Za-z]+", op["operationId"])
        assert op.get("tags") and set(op["tags"]) <= tags, (method, path)
        assert op.get("summary", "").strip(), (method, path)
        assert op.get("description", "").strip(), (method, path)
        assert op["summary"] != op["description"]


def test_every_response_is_documented_with_its_schema(doc: dict[str, Any]) -> None:
    for name, (_, _, op) in operations(doc).items():
        responses = op["responses"]
        assert "default" not in responses, name
        for status in ("401", "409", "422", "503"):
            assert status in responses, (name, status)
        for status, response in responses.items():
            response = resolve(doc, response)
            assert response.get("description"), (name, status)
            if status == "204":
                assert "content" not in response
                continue
            assert response.get("content"), (name, status)
            for media in response["content"].values():
                assert media.get("schema"), (name, status)
            if int(status) >= 400:
                assert response["content"] == {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}
                }, (name, status)


def test_the_error_shape_has_reason_as_an_enum_and_is_open(doc: dict[str, Any]) -> None:
    error = schema(doc, "ApiError")
    assert set(error["required"]) == {"code", "status", "message"}
    assert error["properties"]["reason"]["enum"] == list(REASONS)
    assert error.get("additionalProperties", True) is not False
    assert "Error" not in doc["components"]["schemas"]  # flask-smorest's, without reason


def _reasons(cls: type[AppError]) -> set[str]:
    own = {cls.reason} if cls.reason else set()
    return own.union(*(_reasons(sub) for sub in cls.__subclasses__()))


def test_every_reason_the_service_gives_is_in_the_enum() -> None:
    service = _reasons(AppError) | {"invalid_transition", "stale", "conflict"}
    assert service <= set(REASONS), service - set(REASONS)


def test_headers_pagination_location_and_idempotency_key(doc: dict[str, Any]) -> None:
    ops = operations(doc)
    for name, (_, _, op) in ops.items():
        headers = resolve(doc, op["responses"].get("200", {})).get("headers", {})
        assert ("X-Pagination" in headers) == (name in PAGINATED), name
        params = [resolve(doc, p) for p in op.get("parameters", [])]
        keys = [p for p in params if p["name"] == "Idempotency-Key"]
        if name in IDEMPOTENT:
            assert keys and keys[0]["in"] == "header" and keys[0]["required"] is False, name
        else:
            assert not keys, name
    location = ops["requestExport"][2]["responses"]["202"]["headers"]["Location"]
    assert location["required"] is True


def test_downloads_have_their_media_types(doc: dict[str, Any]) -> None:
    ops = operations(doc)
    xlsx = ops["downloadExport"][2]["responses"]["200"]
    assert list(xlsx["content"]) == [XLSX]
    assert "Content-Disposition" in xlsx["headers"]
    receipt = ops["downloadReceipt"][2]["responses"]["200"]
    assert set(receipt["content"]) == set(receipts.EXTENSIONS)
    for media in (*xlsx["content"].values(), *receipt["content"].values()):
        assert media["schema"] == {"type": "string", "format": "binary"}
    upload = ops["uploadReceipt"][2]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["properties"]["file"]["format"] == "binary"
    assert "expense_id" in upload["properties"]


def test_every_json_body_has_an_example_its_schema_accepts(doc: dict[str, Any]) -> None:
    for name, (_, _, op) in operations(doc).items():
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        media = content["application/json"]
        assert "example" in media, name
        body_schema = {**resolve(doc, media["schema"]), "components": doc["components"]}
        OAS30Validator(body_schema).validate(media["example"])
    used = {
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        for _, _, op in operations(doc).values()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    }
    assert set(REQUEST_EXAMPLES) == used


def test_money_rates_dates_and_enums(doc: dict[str, Any]) -> None:
    def prop(name: str, field: str) -> dict[str, Any]:
        return schema(doc, name)["properties"][field]

    for name, field in [
        ("Grant", "requested_amount"),
        ("Payout", "amount"),
        ("GrantCreate", "budget_lines"),
        ("Expense", "amount_eur"),
    ]:
        found = prop(name, field)
        if found.get("type") == "array":
            found = resolve(doc, found["items"])["properties"]["amount"]
        assert found["type"] == "string" and found["pattern"] == MONEY_PATTERN, (name, field)
    assert prop("RatePut", "rate")["pattern"]
    assert prop("Rate", "rate")["pattern"]
    for name, field in [
        ("Grant", "start_date"),
        ("GrantCreate", "end_date"),
        ("Payout", "paid_on"),
    ]:
        assert prop(name, field)["format"] == "date", (name, field)
    assert prop("Grant", "created_at")["format"] == "date-time"
    assert prop("Grant", "state")["enum"] == list(STATES)
    assert prop("Grant", "available_events")["items"]["enum"] == list(GRANT.events)
    assert prop("GrantTransition", "event")["enum"] == list(GRANT.events)
    assert prop("Payout", "state")["enum"] == list(PAYOUT_STATES)
    assert prop("Payout", "kind")["enum"] == list(PAYOUT_KINDS)
    assert prop("Report", "state")["enum"] == list(REPORT_STATES)
    assert prop("Report", "kind")["enum"] == list(REPORT_KINDS)
    assert prop("Export", "status")["enum"] == list(EXPORT_STATUSES)
    assert prop("Export", "kind")["enum"] == list(EXPORT_KINDS)
    assert prop("User", "role")["enum"] == list(ROLES)
