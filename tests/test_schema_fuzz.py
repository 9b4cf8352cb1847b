"""Schema fuzzing: schemathesis against /api/v1/openapi.json, signed in as each role.

For every operation of the document, Hypothesis generates requests from the schema; no request
may end in a server error, and every response must conform to the document.
"""

from __future__ import annotations

import datetime as dt

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from grants.db import today
from tests.factories import Factory
from workflows.grant import ROLES

FUZZ_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
EXAMPLES = 10
#: Signing out would revoke the token the fuzzer signs in with.
SKIP = {("DELETE", "/api/v1/auth/tokens/current")}


def signed_in(make: Factory, role: str) -> str:
    """A signed-in user of the role, and something to find: a city and grants."""
    city = make.city(valid_from=today() - dt.timedelta(days=30))
    make.grant(city, state="approved")
    make.grant(city, state="submitted")
    mentor_of = (city,) if role == "mentor" else ()
    user = make.user(role, city=city if role == "city_member" else None, mentor_of=mentor_of)
    return make.caller(user).token


@pytest.mark.parametrize("role", ROLES)
def test_no_server_error_and_responses_conform(app, make, role):
    headers = {"Authorization": f"Bearer {signed_in(make, role)}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        tested += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=FUZZ_CHECKS, headers=headers)

        try:
            fuzz()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert tested >= 25
    assert not failures, "\n\n".join(failures)
