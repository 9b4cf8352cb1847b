"""A generated client can live on the API document (issue 12).

The document is fetched from the app, saved to a file, and ``openapi-python-client`` (a test
dependency, the venv's own binary, offline) generates a Python client from it into ``tmp_path``.
The generation must print no warning about the document. The client is imported and drives a
grant's life through the app in-process (httpx's WSGI transport): propose, submit, approve,
authorise the advance, a 409 ``four_eyes`` whose ``reason`` the typed client exposes as its
enum, and the advance confirmed by a second finance officer, which moves the grant to
``disbursed``.

The downloads' media types (XLSX, PDF, PNG, JPEG, ASiC) are ones the generator has no parser
for; its own ``content_type_overrides`` setting maps them to ``application/octet-stream`` (bytes)
for the generator, leaving the document as it is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from flask import Flask

from exports.api import XLSX
from grants.db import today
from grants.reports import receipts
from tests.factories import PASSWORD, Factory

VENV_BIN = Path(sys.executable).parent
GENERATOR = VENV_BIN / "openapi-python-client"
PACKAGE = "pearl_grants_client"
BINARY_TYPES = [*receipts.EXTENSIONS, XLSX]


def generate(document: dict[str, Any], where: Path) -> subprocess.CompletedProcess[str]:
    spec = where / "openapi.json"
    spec.write_text(json.dumps(document), encoding="utf-8")
    config = where / "config.json"
    overrides = dict.fromkeys(BINARY_TYPES, "application/octet-stream")
    config.write_text(json.dumps({"content_type_overrides": overrides}), encoding="utf-8")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(where / "client"),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def generated(app: Flask, tmp_path: Path) -> Iterator[ModuleType]:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    result = generate(document, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(tmp_path / "client"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path / "client"))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_a_grants_life_through_the_generated_client(
    generated: ModuleType, app: Flask, make: Factory
) -> None:
    api = "api"
    create_token = module(f"{api}.users.create_token")
    create_grant = module(f"{api}.grants.create_grant")
    get_grant = module(f"{api}.grants.get_grant")
    fire_grant_event = module(f"{api}.grants.fire_grant_event")
    authorise_payout = module(f"{api}.disbursements.authorise_payout")
    fire_payout_event = module(f"{api}.disbursements.fire_payout_event")
    models = module("models")

    city = make.city(valid_from=today() - dt.timedelta(days=30))
    member = make.user("city_member", city=city)
    finance = make.user("finance_officer")
    finance2 = make.user("finance_officer")

    transport = httpx.WSGITransport(app=app)
    base = "http://pearl.test"
    anonymous = generated.Client(base_url=base, httpx_args={"transport": transport})

    def sign_in(email: str) -> Any:
        answer = create_token.sync_detailed(
            client=anonymous, body=models.TokenRequest(email=email, password=PASSWORD)
        )
        assert answer.status_code == 201, answer.content
        assert isinstance(answer.parsed, models.Token)
        return generated.AuthenticatedClient(
            base_url=base, token=answer.parsed.token, httpx_args={"transport": transport}
        )

    as_member, as_finance, as_finance2 = (sign_in(u.email) for u in (member, finance, finance2))

    start = today() + dt.timedelta(days=1)
    proposal = models.GrantCreate(
        title="Harbour stories",
        summary="Neighbours tell the harbour's history.",
        start_date=start,
        end_date=start + dt.timedelta(days=60),
        budget_lines=[
            models.BudgetLineIn(
                category=models.BudgetLineInCategory("fees"),
                description="Storyteller fees",
                amount="1500.00",
            )
        ],
    )
    created = create_grant.sync_detailed(client=as_member, body=proposal)
    assert created.status_code == 201, created.content
    grant = created.parsed
    assert isinstance(grant, models.Grant)
    assert grant.state == models.GrantState.DRAFT
    assert grant.requested_amount == "1500.00"

    def fire(client: Any, event: str, **body: Any) -> Any:
        answer = fire_grant_event.sync_detailed(
            grant.id,
            client=client,
            body=models.GrantTransition(event=models.GrantTransitionEvent(event), **body),
        )
        assert answer.status_code == 200, answer.content
        return answer.parsed

    assert fire(as_member, "submit").state == models.GrantState.SUBMITTED
    approved = fire(as_finance, "approve", approved_amount="1200.00")
    assert approved.state == models.GrantState.APPROVED
    assert approved.approved_amount == "1200.00"

    # No advance before the agreement is signed by both sides: a reason the typed client reads.
    early = authorise_payout.sync_detailed(
        grant.id, client=as_finance, body=models.PayoutCreate(kind=models.PayoutCreateKind.ADVANCE)
    )
    assert early.status_code == 409
    assert early.parsed.reason == models.ApiErrorReason.AGREEMENT_MISSING
    fire_agreement_event = module(f"{api}.agreements.fire_agreement_event")
    download_agreement = module(f"{api}.agreements.download_agreement")
    signed = fire_agreement_event.sync_detailed(
        grant.id,
        client=as_member,
        body=models.AgreementTransition(
            event=models.AgreementTransitionEvent.SIGN, signatory_name="Agnieszka Wójcik"
        ),
    )
    assert signed.status_code == 200, signed.content
    assert signed.parsed.state == models.AgreementState.AWAITING_COUNTERSIGNATURE
    countersigned = fire_agreement_event.sync_detailed(
        grant.id,
        client=as_finance2,
        body=models.AgreementTransition(event=models.AgreementTransitionEvent.COUNTERSIGN),
    )
    assert countersigned.status_code == 200, countersigned.content
    assert countersigned.parsed.state == models.AgreementState.SIGNED
    pdf = download_agreement.sync_detailed(grant.id, client=as_member)
    assert pdf.status_code == 200
    assert hashlib.sha256(pdf.content).hexdigest() == countersigned.parsed.sha256

    authorised = authorise_payout.sync_detailed(
        grant.id,
        client=as_finance,
        body=models.PayoutCreate(kind=models.PayoutCreateKind.ADVANCE),
        idempotency_key="advance-1",
    )
    assert authorised.status_code == 201, authorised.content
    payout = authorised.parsed
    assert isinstance(payout, models.Payout)
    assert payout.state == models.PayoutState.AUTHORISED

    confirm = models.PayoutTransition(
        event=models.PayoutTransitionEvent.CONFIRM_PAID,
        paid_on=today(),
        payment_reference="BANK-REF-1",
    )
    refused = fire_payout_event.sync_detailed(payout.id, client=as_finance, body=confirm)
    assert refused.status_code == 409
    assert isinstance(refused.parsed, models.ApiError)
    assert refused.parsed.reason == models.ApiErrorReason.FOUR_EYES
    assert refused.parsed.code == 409

    paid = fire_payout_event.sync_detailed(payout.id, client=as_finance2, body=confirm)
    assert paid.status_code == 200, paid.content
    assert paid.parsed.state == models.PayoutState.PAID

    final = get_grant.sync_detailed(grant.id, client=as_member)
    assert final.status_code == 200
    assert final.parsed.state == models.GrantState.DISBURSED
    assert final.parsed.paid_amount == payout.amount

    gone = get_grant.sync_detailed(999_999, client=as_member)
    assert gone.status_code == 404
    assert isinstance(gone.parsed, models.ApiError)
