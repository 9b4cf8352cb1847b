"""Schema fuzzing: schemathesis against /api/v1/openapi.json, with all its checks, as each role.

1. ``test_all_checks_as_each_role``: schemathesis' own engine (the one behind ``schemathesis
   run``) over a real HTTP server, signed in as each role: every phase (examples, coverage,
   fuzzing, stateful), positive and negative data (so path, query, header and body values that
   break the document), and every check schemathesis has, each enabled (see ``CHECKS``).
2. ``test_hostile_headers_query_and_path``: a hand-written table of hostile header, query and
   path values sent with Flask's test client to every operation.

Never a 5xx; every status is documented for its operation; every error has the one shape of
api.md (``{code, status, message, errors?, reason?}``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.engine import Status, events, from_schema

from grants.db import today
from tests.factories import Factory
from workflows.grant import ROLES

load_all_checks()
#: Every check this schemathesis version has (14 in 4.32): all are enabled by default and none
#: is turned off here. `max_response_time` is not a check but a limit, and is not set.
CHECKS = sorted(check.__name__ for check in CHECKS.get_all())
#: Signing out would revoke the token the fuzzer signs in with.
SIGN_OUT = ("DELETE", "/api/v1/auth/tokens/current")
ERROR_KEYS = {"code", "status", "message", "errors", "reason"}

#: `positive_data_acceptance`: a request valid by the document must not be refused. By default
#: it counts 2xx, 3xx, 401, 403, 404, 409 and 429 as accepted: an id the fuzzer made up is 404,
#: a role that may not is 403, a business refusal (wrong state, the cap, four eyes) is 409.
#: These operations also have rules across fields or against the clock that a JSON Schema
#: cannot state and that api.md makes 422s, so 422 counts as accepted there (and only there):
POSITIVE_422 = {
    # end_date ≥ start_date; the dates inside the title's validity; the total ≤ 9,999,999.99
    ("POST", "/api/v1/grants"),
    ("PATCH", "/api/v1/grants/{grant_id}"),
    # vat_amount ≤ amount; payment dates not in the future; the total ≤ 9,999,999.99
    ("POST", "/api/v1/grants/{grant_id}/reports"),
    ("PATCH", "/api/v1/reports/{report_id}"),
    # a comment required by some events; an adjusted eligible_eur ≤ the line's
    ("POST", "/api/v1/grants/{grant_id}/transitions"),
    ("POST", "/api/v1/reports/{report_id}/transitions"),
    # paid_on not in the future; payment_reference or comment required by the event
    ("POST", "/api/v1/disbursements/{payout_id}/transitions"),
    # valid_from ≤ valid_until
    ("POST", "/api/v1/cities/{city_id}/titles"),
    # city_id required for a city member, forbidden for other roles
    ("POST", "/api/v1/users"),
    ("PATCH", "/api/v1/users/{user_id}"),
    # the parameters each kind of export needs
    ("POST", "/api/v1/exports"),
    # the IBAN's checksum and its country's length and format; the BIC's country
    ("POST", "/api/v1/cities/{city_id}/bank-accounts"),
    # a comment required to reject
    ("POST", "/api/v1/bank-accounts/{account_id}/transitions"),
}
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]


def signed_in(make: Factory, role: str) -> str:
    """A signed-in user of the role, and something to find: a city and grants."""
    city = make.city(valid_from=today() - dt.timedelta(days=30))
    make.grant(city, state="approved")
    make.grant(city, state="submitted")
    mentor_of = (city,) if role == "mentor" else ()
    user = make.user(role, city=city if role == "city_member" else None, mentor_of=mentor_of)
    return make.caller(user).token


def engine_config(token: str) -> schemathesis.Config:
    operations = [
        {
            "include-method": method,
            "include-path": path,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}},
        }
        for method, path in sorted(POSITIVE_422)
    ]
    operations.append(
        {"include-method": SIGN_OUT[0], "include-path": SIGN_OUT[1], "enabled": False}
    )
    return schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {
                "mode": "all",  # positive and negative data
                "max-examples": 4,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"max-steps": 4}},
            "checks": {
                "enabled": True,
                "positive_data_acceptance": {"expected-statuses": ACCEPTED},
            },
            "operations": operations,
            # One worker: with two, CPython 3.11 sometimes fails compiling the generators'
            # regexes in threads ("AST constructor recursion depth mismatch").
            "workers": 1,
            "continue-on-failure": True,
            "suppress-health-check": ["all"],
            "cache": {"enabled": False},  # each run from scratch, no state left in the tree
        }
    )


def _run(schema: Any) -> tuple[list[str], set[str], int]:
    """Run the engine; its failures, the checks it ran, and how many requests it sent."""
    failures: list[str] = []
    ran: set[str] = set()
    sent = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            sent += len(event.recorder.interactions)
            for case_id, nodes in event.recorder.checks.items():
                for node in nodes:
                    ran.add(node.name)
                    if node.status != Status.FAILURE or node.failure_info is None:
                        continue
                    failure = node.failure_info.failure
                    interaction = event.recorder.interactions.get(case_id)
                    sent_request = ""
                    if interaction is not None:
                        body = (interaction.request.body or b"")[:300]
                        sent_request = f"\n  {interaction.request.method} "
                        sent_request += f"{interaction.request.uri[:300]} {body!r}"
                    failures.append(
                        f"{event.label} [{node.name}] {failure.title}: "
                        f"{failure.message[:500]}{sent_request}"
                    )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            error = event.value if isinstance(event, events.NonFatalError) else event.exception
            failures.append(f"engine error: {error!r}"[:800])
    return failures, ran, sent


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@pytest.mark.parametrize("role", ROLES)
def test_all_checks_as_each_role(app, make, live, role):
    schema = schemathesis.openapi.from_url(
        f"{live.base_url}/api/v1/openapi.json", config=engine_config(signed_in(make, role))
    )
    assert len(list(schema.get_all_operations())) >= 30
    failures, ran, sent = _run(schema)
    assert sent > 500
    # Every check ran (the stateful ones, use_after_free and ensure_resource_availability,
    # find nothing to say: the API deletes nothing but a token, which the run must keep).
    assert set(CHECKS) - {"max_response_time"} <= ran | {"object_level_authorization"}
    unique = sorted(set(failures))
    assert not unique, f"{len(unique)} failures:\n\n" + "\n\n".join(unique[:40])


# --- hostile header, query and path values --------------------------------------------------

LONG = "x" * 10_240
HOSTILE_VALUES = [
    "9" * 40,
    "2147483648",
    "-1",
    "1e9",
    "0x10",
    "١٢",
    "%00",
    "\x00",
    "..%2f",
    "../..",
    "%2e%2e%2f",
    " 1",
    "",
    "null",
    "[]",
    "\u202e1",
    LONG,
]
HOSTILE_AUTHORIZATION = [
    "",
    "Bearer",
    "Bearer ",
    "Bearer \x00",
    "Bearer tok\x00en",
    "Bearer \x01\x1f\x7f",
    "Bearer é",
    "Basic dXNlcjpwYXNz",
    "bearer  " + LONG,
    "Bearer " + LONG * 3,
    "Token abc",
    "Bearer a b c",
]
#: Other headers (the Authorization header stays valid).
HOSTILE_HEADERS = [
    ("Idempotency-Key", value)
    for value in ["\x00", "k\x00ey", "a\x01b", "\x7f", " ", "\t", "é", "key with space", "k" * 256]
] + [
    ("Content-Type", "text/plain"),
    ("Content-Type", "application/json; charset=utf-16"),
    ("Content-Type", "application/json\x00"),
    ("Content-Type", "multipart/form-data; boundary="),
    ("Content-Type", "application/x-www-form-urlencoded"),
    ("Content-Type", LONG),
    ("Accept", "application/xml"),
    ("Accept", "*/*;q=2\x00"),
    ("Accept", LONG),
    ("X-Forwarded-For", "\x00, 1.1.1.1, " * 200),
    ("X-Forwarded-Host", "evil.example\x01"),
    ("X-Forwarded-Proto", "gopher"),
    ("X-Forwarded-Prefix", "/../.."),
    ("Host", "evil.example"),
    ("Content-Length", "-1"),
]


def _document(client: Any) -> dict[str, Any]:
    return client.get("/api/v1/openapi.json").get_json()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], list[dict]]]:
    found = []
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method == "parameters" or (method.upper(), path) == SIGN_OUT:
                continue
            parameters = [
                document["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
                if "$ref" in p
                else p
                for p in [*shared, *operation.get("parameters", [])]
            ]
            found.append((method.upper(), path, operation, parameters))
    return found


def _conforms(operation: dict[str, Any], response: Any) -> str | None:
    """Why ``response`` breaks the document (``None`` if it conforms)."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}: {response.get_data()[:300]!r}"
    if str(status) not in operation["responses"]:
        return f"undocumented status {status}: {response.get_data()[:300]!r}"
    if status < 400:
        return None
    if response.mimetype != "application/json":
        return f"{status} is {response.mimetype}, not JSON"
    body = response.get_json(silent=True)
    if (
        not isinstance(body, dict)
        or not {"code", "status", "message"} <= body.keys() <= ERROR_KEYS
        or body["code"] != status
        or not isinstance(body["message"], str)
        or ("reason" in body and not isinstance(body["reason"], str))
        or ("errors" in body and not isinstance(body["errors"], dict))
    ):
        return f"{status} with a body not of the error shape: {body!r}"[:400]
    return None


def _url(path: str, parameters: list[dict], ids: dict[str, Any], **override: str) -> str:
    for parameter in parameters:
        if parameter["in"] == "path":
            name = parameter["name"]
            value = override.get(name, ids.get(name, 1))
            path = path.replace("{" + name + "}", str(value))
    return path


@pytest.mark.slow
def test_hostile_headers_query_and_path(app, make):
    city = make.city(valid_from=today() - dt.timedelta(days=30))
    grant = make.grant(city, state="approved")
    token = make.caller(make.user("admin")).token
    ids = {"grant_id": grant.id, "city_id": city.id, "month": "2027-01", "currency": "SEK"}
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    operations = _operations(_document(client))
    problems: list[str] = []

    def send(method: str, url: str, operation: dict, headers: dict, **kw: Any) -> Any:
        body = kw.pop("data", None)
        if body is None and "requestBody" in operation:
            body = json.dumps({})
            headers = {"Content-Type": "application/json", **headers}
        try:
            response = client.open(url, method=method, headers=headers, data=body, **kw)
        except ValueError:  # the test client itself refuses the value: nothing reached the app
            return None
        problem = _conforms(operation, response)
        if problem:
            shown = {k: (v[:40] + "…" if len(v) > 40 else v) for k, v in headers.items()}
            problems.append(f"{method} {url[:120]} {shown!r}: {problem}")
        return response

    for method, path, operation, parameters in operations:
        url = _url(path, parameters, ids)
        for value in HOSTILE_AUTHORIZATION:
            response = send(method, url, operation, {"Authorization": value})
            public = operation.get("security") == []
            if response is not None and not public and response.status_code != 401:
                status = response.status_code
                problems.append(f"{method} {url} Authorization {value[:30]!r}: {status}")
        for name, value in HOSTILE_HEADERS:
            send(method, url, operation, {**auth, name: value})
        for parameter in parameters:
            if parameter["in"] == "path":
                for value in HOSTILE_VALUES:
                    quoted = value if value.startswith("%") else value.replace("/", "%2F")
                    hostile = _url(path, parameters, ids, **{parameter["name"]: quoted})
                    send(method, hostile, operation, auth)
            elif parameter["in"] in ("query", "header"):
                for value in HOSTILE_VALUES:
                    if parameter["in"] == "header":
                        send(method, url, operation, {**auth, parameter["name"]: value})
                        continue
                    send(method, url, operation, auth, query_string={parameter["name"]: value})
                if parameter["in"] == "query":
                    raw = f"{parameter['name']}=%00&{parameter['name']}=%ff%fe"
                    send(method, f"{url}?{raw}", operation, auth)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(sorted(set(problems))[:60])


@pytest.mark.parametrize(
    "key", ["\x00", "k\x00ey", "a\x01b", "\x7f", "\x1b[31m", " ", "é", "key with space", "k" * 256]
)
def test_hostile_idempotency_key_is_422_naming_the_header(make, key):
    city = make.city(valid_from=today() - dt.timedelta(days=30))
    grant = make.grant(city, state="approved")
    officer = make.caller(make.user("finance_officer"))
    response = officer.client.post(
        f"/api/v1/grants/{grant.id}/disbursements",
        json={"kind": "advance"},
        headers={"Authorization": f"Bearer {officer.token}", "Idempotency-Key": key},
    )
    assert response.status_code == 422, response.get_data()
    assert "Idempotency-Key" in response.get_json()["errors"]["headers"]
