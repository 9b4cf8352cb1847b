"""Policies (``grants/<aggregate>/policies.py``): each "may this user do X now" answered once.

Each policy is checked allowed and refused, with the words and the status of its refusal; then
the pages are shown to offer exactly what the API (through the services) lets the user do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from grants.comments.policies import may_comment
from grants.comments.services import add_comment
from grants.db import today
from grants.errors import (
    ALLOWED,
    AccountChanged,
    AppError,
    CityNotEligible,
    Conflict,
    Forbidden,
    FourEyes,
    InvalidTransition,
    Verdict,
    refuse,
)
from grants.extensions import db
from grants.figures import grant_figures
from grants.grant.models import Grant
from grants.grant.policies import may_edit_grant, may_propose, proposal_terms
from grants.payouts import policies as payout_policies
from grants.payouts.models import Payout
from grants.payouts.policies import (
    authorisable_kinds,
    may_authorise_payout,
    may_cancel_payout,
    may_confirm_payout,
    payout_terms,
)
from grants.rates.policies import may_edit_rates
from grants.rates.services import set_rate
from grants.reports.models import Report
from grants.reports.policies import may_edit_report, may_file_report, may_upload_receipt
from grants.users.models import User
from tests.factories import Factory
from tests.money_helpers import approved_grant, confirm, disbursed_grant, expense, new_report
from tests.test_receipts import minimal_pdf, upload
from workflows.errors import TransitionNotAllowed

ROOT = Path(__file__).resolve().parent.parent


def as_user(role: str, user_id: int = 1, city_id: int | None = None) -> User:
    """An actor that is never stored: the pure policies read only its role and id."""
    return User(id=user_id, role=role, email=f"{role}@x.example", city_id=city_id)


def refused_with(verdict: Verdict, error: type[Exception], code: int, text: str) -> None:
    assert not verdict.allowed and not verdict
    assert isinstance(verdict.refusal, error), verdict.refusal
    assert verdict.code == code
    assert verdict.reason is not None and text in verdict.reason, verdict.reason
    with pytest.raises(error) as raised:
        verdict.enforce()
    assert raised.value is verdict.refusal


def allowed(verdict: Verdict) -> None:
    assert verdict.allowed and verdict, verdict.reason
    assert verdict.refusal is None and verdict.reason is None and verdict.code is None
    verdict.enforce()  # raises nothing


# ---------------------------------------------------------------------------------------------
# The verdict


def test_a_verdict_is_truthy_only_when_allowed_and_carries_the_error_it_raises():
    allowed(ALLOWED)
    error = Conflict("Not now.")
    no = refuse(error)
    assert bool(no) is False  # a NamedTuple of two would be truthy: __bool__ says allowed
    assert (no.reason, no.code, no.reason_code) == ("Not now.", 409, "invalid_transition")
    assert refuse(FourEyes()).reason_code == "four_eyes"
    assert refuse(Forbidden("No.")).reason_code is None
    moved = refuse(TransitionNotAllowed("cancel", "paid"))
    assert (moved.code, moved.reason_code) == (409, "invalid_transition")
    assert moved.reason == "The event 'cancel' cannot be fired in state 'paid'."
    with pytest.raises(Conflict) as raised:
        no.enforce()
    assert raised.value is error


# ---------------------------------------------------------------------------------------------
# Grants


def test_may_propose(make: Factory):
    city = make.city()
    member = make.user("city_member", city=city)
    allowed(may_propose(member))
    verdict, title = proposal_terms(member)
    assert verdict.allowed and title is not None and title.city_id == city.id
    refused_with(may_propose(make.user("auditor")), Forbidden, 403, "proposed by a city's team")
    capital = make.user("city_member", city=make.city("Capital", is_capital=True))
    refused_with(may_propose(capital), CityNotEligible, 409, "capitals are not eligible")
    assert may_propose(capital).reason_code == "city_not_eligible"
    homeless = as_user("city_member", city_id=-1)  # no such city (never stored)
    refused_with(may_propose(homeless), CityNotEligible, 409, "belongs to no city")


def test_may_edit_grant():
    member = as_user("city_member")
    for state in ("draft", "changes_requested"):
        allowed(may_edit_grant(Grant(state=state), member))
    refused_with(
        may_edit_grant(Grant(state="draft"), as_user("finance_officer")),
        Forbidden,
        403,
        "edited by the city's team",
    )
    refused_with(
        may_edit_grant(Grant(state="submitted"), member),
        InvalidTransition,
        409,
        "only while it is a draft or changes were requested; this one is submitted",
    )


# ---------------------------------------------------------------------------------------------
# Reports


def test_may_file_report(make: Factory):
    city = make.city()
    member = make.user("city_member", city=city)
    grant = make.grant(city, state="disbursed", author=member)
    allowed(may_file_report(grant, "interim", member))
    refused_with(
        may_file_report(grant, "final", member),
        InvalidTransition,
        409,
        "An final report is filed when the grant is interim_reported, not disbursed.",
    )
    refused_with(
        may_file_report(grant, "interim", make.user("finance_officer")),
        Forbidden,
        403,
        "filed by the city's team",
    )
    db.session.add(
        Report(
            grant_id=grant.id, kind="interim", state="draft", narrative={}, created_by_id=member.id
        )
    )
    db.session.commit()
    refused_with(
        may_file_report(grant, "interim", member),
        Conflict,
        409,
        "has its interim report already",
    )


@pytest.mark.parametrize("policy", [may_edit_report, may_upload_receipt])
def test_may_edit_a_report_and_upload_its_receipts(policy: Any):
    member = as_user("city_member")
    for state in ("draft", "returned"):
        allowed(policy(Report(state=state), member))
    for role in ("finance_officer", "mentor", "auditor", "admin"):
        refused_with(policy(Report(state="draft"), as_user(role)), Forbidden, 403, "city's team")
    refused_with(
        policy(Report(state="submitted"), member),
        InvalidTransition,
        409,
        "draft or returned, not submitted",
    )


# ---------------------------------------------------------------------------------------------
# Payouts


def test_may_authorise_payout_and_its_default_amount(make: Factory):
    grant = make.grant(make.city(), state="approved", amounts=(100_001,))
    figures = grant_figures(grant)
    officer = make.user("finance_officer")
    allowed(may_authorise_payout(grant, "advance", figures, officer))
    verdict, due = payout_terms(grant, "advance", figures)
    assert verdict.allowed and due == 50_000  # half the approved amount, rounded down
    refused_with(
        may_authorise_payout(grant, "advance", figures, make.user("mentor")),
        Forbidden,
        403,
        "Only finance officers authorise payouts.",
    )
    refused_with(
        may_authorise_payout(grant, "balance", figures, officer),
        InvalidTransition,
        409,
        "only after the final report is accepted",
    )
    assert payout_terms(grant, "balance", figures)[1] == 0
    assert authorisable_kinds(grant, figures, officer) == ["advance"]
    assert authorisable_kinds(grant, figures, make.user("admin")) == []
    draft = make.grant(make.city(), state="draft")
    refused_with(
        may_authorise_payout(draft, "advance", grant_figures(draft), officer),
        InvalidTransition,
        409,
        "An advance is paid once the grant is approved, not draft.",
    )


def _payout(state: str = "authorised", grant_state: str = "approved", kind: str = "advance"):
    return Payout(
        kind=kind,
        state=state,
        amount_cents=100,
        authorised_by_id=1,
        grant=Grant(state=grant_state),
        account_id=7,  # the copy of the city's verified account (7 in force, below)
    )


def test_may_confirm_payout_four_eyes(monkeypatch: pytest.MonkeyPatch):
    in_force = Payout(id=7)  # stands for the city's verified bank account, id 7
    monkeypatch.setattr(payout_policies, "account_in_force", lambda city_id: in_force)
    authoriser, other = as_user("finance_officer", 1), as_user("finance_officer", 2)
    allowed(may_confirm_payout(_payout(), other))
    in_force.id = 8  # the city's account changed after authorisation
    refused_with(may_confirm_payout(_payout(), other), AccountChanged, 409, "cancel")
    in_force.id = 7
    refused_with(may_confirm_payout(_payout(), authoriser), FourEyes, 409, "another finance")
    assert may_confirm_payout(_payout(), authoriser).reason_code == "four_eyes"
    refused_with(
        may_confirm_payout(_payout(), as_user("admin", 3)), Forbidden, 403, "confirm payouts"
    )
    refused_with(
        may_confirm_payout(_payout(state="paid"), other),
        TransitionNotAllowed,
        409,
        "cannot be fired in state 'paid'",
    )
    refused_with(
        may_confirm_payout(_payout(grant_state="terminated"), other),
        InvalidTransition,
        409,
        "The grant is terminated: nothing more is paid out to it; cancel this payout.",
    )
    # Money coming back is confirmed whatever became of the grant.
    allowed(may_confirm_payout(_payout(grant_state="terminated", kind="recovery"), other))


def test_may_cancel_payout():
    allowed(may_cancel_payout(_payout(), as_user("finance_officer", 1)))  # the authoriser too
    refused_with(
        may_cancel_payout(_payout(), as_user("city_member", 2)), Forbidden, 403, "cancel payouts"
    )
    refused_with(
        may_cancel_payout(_payout(state="cancelled"), as_user("finance_officer", 2)),
        TransitionNotAllowed,
        409,
        "cannot be fired in state 'cancelled'",
    )


# ---------------------------------------------------------------------------------------------
# Comments and rates


def test_may_comment():
    for role in ("city_member", "finance_officer", "mentor", "admin"):
        allowed(may_comment(as_user(role), "shared"))
    for role in ("finance_officer", "mentor", "admin"):
        allowed(may_comment(as_user(role), "internal"))
    refused_with(
        may_comment(as_user("city_member"), "internal"),
        Forbidden,
        403,
        "City members write shared comments only.",
    )
    for visibility in ("shared", "internal"):
        refused_with(
            may_comment(as_user("auditor"), visibility), Forbidden, 403, "Auditors read comments"
        )


def test_may_edit_rates():
    for role in ("finance_officer", "admin"):
        allowed(may_edit_rates(as_user(role)))
    for role in ("city_member", "mentor", "auditor"):
        refused_with(
            may_edit_rates(as_user(role)),
            Forbidden,
            403,
            "Only finance officers and admins set exchange rates.",
        )


# ---------------------------------------------------------------------------------------------
# The services refuse with the policy's error, and the pages offer what the services accept


def test_the_api_refuses_with_the_policys_status_reason_and_words(make: Factory):
    city = make.city()
    member = make.as_role("city_member", city=city)
    grant = make.grant(city, state="submitted", author=member.user)
    verdict = may_edit_grant(grant, member.user)
    r = member.patch(f"/grants/{grant.id}", {"title": "New"})
    assert r.status_code == verdict.code == 409
    assert r.get_json()["reason"] == verdict.reason_code
    assert r.get_json()["message"] == verdict.reason


def test_the_pages_offer_confirm_paid_exactly_when_the_api_confirms(make: Factory, pages: Any):
    pilot = approved_grant(make)
    r = pilot.a.post(f"/grants/{pilot.id}/disbursements", {"kind": "advance"})
    assert r.status_code == 201, r.get_json()
    pid = r.get_json()["id"]
    terminated = approved_grant(make)
    r = terminated.a.post(f"/grants/{terminated.id}/disbursements", {"kind": "advance"})
    ended_pid = r.get_json()["id"]
    db.session.execute(update(Grant).where(Grant.id == terminated.id).values(state="terminated"))
    db.session.commit()

    def offered(caller: Any, grant_id: int, payout_id: int) -> dict[str, bool]:
        p = pages(caller.user)
        action = f"/payouts/{payout_id}/confirm_paid"
        grant_page = p.get(f"/grants/{grant_id}").text
        dashboard = p.get("/dashboard").text
        return {"grant page": action in grant_page, "queue": action in dashboard}

    # The authoriser is offered nothing and refused; the other officer is offered it, at first
    # not for the terminated grant's advance (refused), then for the approved grant's (paid).
    assert offered(pilot.a, pilot.id, pid) == {"grant page": False, "queue": False}
    assert confirm(pilot.a, pid).status_code == 409
    assert offered(terminated.b, terminated.id, ended_pid) == {"grant page": False, "queue": False}
    r = confirm(terminated.b, ended_pid)
    assert r.status_code == 409 and "nothing more is paid out" in r.get_json()["message"]
    assert offered(pilot.b, pilot.id, pid) == {"grant page": True, "queue": True}
    assert confirm(pilot.b, pid).status_code == 200
    assert offered(pilot.b, pilot.id, pid) == {"grant page": False, "queue": False}


def test_the_report_page_offers_upload_exactly_when_the_api_takes_the_receipt(
    make: Factory, pages: Any
):
    pilot = disbursed_grant(make)
    report = new_report(pilot.member, pilot.id, "interim", [expense("I-1")])
    path = f"/reports/{report['id']}"

    def offers(caller: Any) -> bool:
        return f"{path}/receipts" in pages(caller.user).get(path).text

    assert not offers(pilot.a)
    assert upload(pilot.a, report["id"], minimal_pdf()).status_code == 403
    assert offers(pilot.member)
    assert upload(pilot.member, report["id"], minimal_pdf()).status_code == 201
    r = pilot.member.post(f"{path}/transitions", {"event": "submit"})
    assert r.status_code == 200, r.get_json()
    assert not offers(pilot.member)
    assert upload(pilot.member, report["id"], minimal_pdf()).status_code == 409


def test_the_grant_page_offers_editing_and_filing_exactly_when_the_api_accepts(
    make: Factory, pages: Any
):
    city = make.city()
    member = make.as_role("city_member", city=city)
    draft = make.grant(city, state="draft", author=member.user)
    disbursed = make.grant(city, state="disbursed", author=member.user)
    html = pages(member.user).get(f"/grants/{draft.id}").text
    assert f"/grants/{draft.id}/edit" in html and "/reports/new" not in html
    assert member.patch(f"/grants/{draft.id}", {"title": "Renamed"}).status_code == 200
    body = {"kind": "final", "narrative": {}, "expenses": []}
    assert member.post(f"/grants/{draft.id}/reports", body).status_code == 409
    html = pages(member.user).get(f"/grants/{disbursed.id}").text
    assert f"/grants/{disbursed.id}/edit" not in html
    assert "kind=interim" in html and "kind=final" not in html
    assert member.patch(f"/grants/{disbursed.id}", {"title": "Renamed"}).status_code == 409
    assert member.post(f"/grants/{disbursed.id}/reports", body).status_code == 409
    body["kind"] = "interim"
    assert member.post(f"/grants/{disbursed.id}/reports", body).status_code == 201
    assert "kind=interim" not in pages(member.user).get(f"/grants/{disbursed.id}").text


@pytest.mark.parametrize("template", ["proposals/grant.html", "reports/report.html"])
def test_the_templates_read_verdicts_and_derive_no_permission(template: str):
    text = (ROOT / "templates" / template).read_text()
    assert not re.search(r"\.role\s*==|role\s*in\s|state\s+in\s*\(|signed_in_user\(\)\.role", text)


def test_the_services_raise_the_policies_refusals(make: Factory):
    """A service called directly (no HTTP role check before it) refuses as its policy does."""
    city = make.city()
    grant = make.grant(city, state="submitted")
    auditor = make.user("auditor")
    with pytest.raises(Forbidden) as raised:
        add_comment(grant, {"body": "Hi", "visibility": "shared"}, actor=auditor)
    assert raised.value.message == may_comment(auditor, "shared").reason
    with pytest.raises(Forbidden) as raised:
        set_rate(today().strftime("%Y-%m"), "DKK", 7_460_400, actor=auditor)
    assert raised.value.message == may_edit_rates(auditor).reason
    db.session.rollback()
    assert isinstance(raised.value, AppError) and raised.value.code == 403
