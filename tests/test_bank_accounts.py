"""The bank account of the beneficiary (domain.md, "Bank account of the beneficiary"): IBAN and
BIC validated, four eyes on verification, one account in force per city, payouts authorised
against it and keeping a copy, and who sees which city's accounts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from grants.audit import AuditEvent
from grants.banking.models import BankAccount
from grants.banking.numbers import masked
from grants.db import today
from grants.extensions import db
from tests.conftest import needs_postgres
from tests.factories import Caller, Factory
from tests.money_helpers import Pilot, authorise, confirm_body, refused
from tests.pages_helpers import token_of

LV = "LV80 BANK 0000 4351 9500 1"  # a valid Latvian IBAN, printed form
LV_COMPACT = "LV80BANK0000435195001"
PL = "PL61109010140000071219812874"
DE = "DE89370400440532013000"


def accounts(caller: Caller, city_id: int) -> list[dict[str, Any]]:
    r = caller.get(f"/cities/{city_id}/bank-accounts")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def propose(caller: Caller, city_id: int, **body: Any) -> Any:
    return caller.post(f"/cities/{city_id}/bank-accounts", {"holder": "Municipality", **body})


def decide(caller: Caller, account_id: int, event: str, **body: Any) -> Any:
    return caller.post(f"/bank-accounts/{account_id}/transitions", {"event": event, **body})


def stored() -> int:
    return db.session.scalar(select(func.count()).select_from(BankAccount)) or 0


@pytest.fixture
def world(make: Factory) -> dict[str, Any]:
    city = make.city(bank_account=False)
    return {
        "city": city,
        "member": make.as_role("city_member", city=city),
        "a": make.as_role("finance_officer"),
        "b": make.as_role("finance_officer"),
    }


# ---------------------------------------------------------------------------------------------
# IBAN and BIC


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"iban": "LV81 BANK 0000 4351 9500 1"}, "iban", "check digits"),  # wrong checksum
        ({"iban": "LV80 BANK 0000 4351 9500"}, "iban", "number of characters"),  # too short
        ({"iban": "LV80 BANK 0000 4351 9500 12"}, "iban", "number of characters"),  # too long
        ({"iban": "XX80 BANK 0000 4351 9500 1"}, "iban", "country code"),
        ({"iban": "not an iban"}, "iban", "IBAN"),
        ({"iban": LV, "bic": "HABA1V22"}, "bic", "4 letters"),  # wrong BIC format
        ({"iban": LV, "bic": "HAB"}, "bic", "8 or 11"),  # wrong BIC length
        ({"iban": LV, "bic": "DEUTDEFF"}, "bic", "same country"),  # a German bank for LV
    ],
)
def test_a_wrong_iban_or_bic_is_422_naming_the_field_in_words(
    world: dict[str, Any], body: dict[str, Any], field: str, words: str
):
    r = propose(world["member"], world["city"].id, **body)
    answer = refused(r, 422)
    assert words in json.dumps(answer["errors"]["json"][field]), answer
    assert stored() == 0


def test_the_iban_is_stored_in_electronic_form_and_waits_pending(world: dict[str, Any]):
    member, city = world["member"], world["city"]
    r = propose(member, city.id, iban="  lv80 bank 0000 4351 9500 1 ", bic="habalv22")
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert (out["iban"], out["bic"], out["state"]) == (LV_COMPACT, "HABALV22", "pending")
    assert (out["proposed_by"], out["verified_by"], out["city_id"]) == (
        member.user.id,
        None,
        city.id,
    )
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "bank_account_proposed")
    ).one()
    assert (event.subject_id, event.data["iban"]) == (out["id"], LV_COMPACT)


def test_without_a_bic_the_banks_bic_is_taken_where_the_iban_names_it(world: dict[str, Any]):
    r = propose(world["member"], world["city"].id, iban=DE)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["bic"] == "COBADEFFXXX"


def test_masked_shows_the_country_and_the_last_four_only():
    assert masked("LV80BANK0000435195001") == "LV•• •••• •••• •••• •500 1"
    assert masked(PL) == "PL•• •••• •••• •••• •••• •••• 2874"


# ---------------------------------------------------------------------------------------------
# Four eyes and the history


def test_the_proposer_may_not_verify_another_officer_does(world: dict[str, Any]):
    a, b, city = world["a"], world["b"], world["city"]
    account = propose(a, city.id, iban=LV).get_json()
    refused(decide(a, account["id"], "verify"), 409, "four_eyes")
    assert accounts(b, city.id)[0]["state"] == "pending"
    r = decide(b, account["id"], "verify")
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["state"], r.get_json()["verified_by"]) == ("verified", b.user.id)
    # verifying twice: it is no longer pending
    refused(decide(a, account["id"], "verify"), 409, "invalid_transition")


def test_a_city_members_proposal_is_verified_by_any_finance_officer(world: dict[str, Any]):
    account = propose(world["member"], world["city"].id, iban=LV).get_json()
    r = decide(world["a"], account["id"], "verify")
    assert r.status_code == 200, r.get_json()


def test_verifying_a_change_supersedes_the_account_in_force(world: dict[str, Any]):
    a, b, member, city = world["a"], world["b"], world["member"], world["city"]
    first = propose(member, city.id, iban=LV).get_json()
    assert decide(a, first["id"], "verify").status_code == 200
    second = propose(member, city.id, iban=PL, holder="Town council").get_json()
    assert [x["state"] for x in accounts(member, city.id)] == ["pending", "verified"]
    assert decide(b, second["id"], "verify").status_code == 200
    history = accounts(member, city.id)
    assert [(x["id"], x["state"]) for x in history] == [
        (second["id"], "verified"),
        (first["id"], "superseded"),
    ]
    assert history[1]["superseded_at"] is not None


def test_a_new_proposal_replaces_the_one_waiting(world: dict[str, Any]):
    member, city = world["member"], world["city"]
    first = propose(member, city.id, iban=LV).get_json()
    second = propose(member, city.id, iban=PL).get_json()
    states = {x["id"]: x["state"] for x in accounts(member, city.id)}
    assert states == {first["id"]: "superseded", second["id"]: "pending"}
    refused(decide(world["a"], first["id"], "verify"), 409, "invalid_transition")


def test_rejecting_needs_a_comment_the_city_reads(world: dict[str, Any]):
    a, member, city = world["a"], world["member"], world["city"]
    account = propose(member, city.id, iban=LV).get_json()
    body = refused(decide(a, account["id"], "reject"), 422)
    assert "comment" in body["errors"]["json"]
    assert accounts(member, city.id)[0]["state"] == "pending"
    r = decide(a, account["id"], "reject", comment="The letter names another holder.")
    assert r.status_code == 200, r.get_json()
    [seen] = accounts(member, city.id)
    assert (seen["state"], seen["reject_comment"]) == (
        "rejected",
        "The letter names another holder.",
    )


def test_every_step_is_in_the_audit_trail(world: dict[str, Any]):
    a, b, member, city = world["a"], world["b"], world["member"], world["city"]
    first = propose(member, city.id, iban=LV).get_json()
    decide(a, first["id"], "verify")
    waiting = propose(member, city.id, iban=PL).get_json()
    second = propose(member, city.id, iban=DE).get_json()
    decide(b, second["id"], "verify")
    third = propose(member, city.id, iban=LV).get_json()
    decide(a, third["id"], "reject", comment="Not the city's account.")
    db.session.commit()
    actions = [
        (e.action, e.subject_id)
        for e in db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == "bank_account")
            .order_by(AuditEvent.id)
        )
    ]
    assert actions == [
        ("bank_account_proposed", first["id"]),
        ("bank_account_verified", first["id"]),
        ("bank_account_proposed", waiting["id"]),
        ("bank_account_superseded", waiting["id"]),
        ("bank_account_proposed", second["id"]),
        ("bank_account_superseded", first["id"]),
        ("bank_account_verified", second["id"]),
        ("bank_account_proposed", third["id"]),
        ("bank_account_rejected", third["id"]),
    ]


# ---------------------------------------------------------------------------------------------
# Who sees and does what


def test_a_city_never_sees_another_citys_accounts(make: Factory, world: dict[str, Any]):
    other = make.city()  # with a verified account of its own
    member = world["member"]
    assert refused(member.get(f"/cities/{other.id}/bank-accounts"), 404)
    refused(propose(member, other.id, iban=LV), 404)
    [theirs] = db.session.scalars(select(BankAccount).where(BankAccount.city_id == other.id))
    refused(decide(member, theirs.id, "verify"), 404)
    assert accounts(member, world["city"].id) == []
    outsider = make.as_role("city_member", city=other)
    assert [x["id"] for x in accounts(outsider, other.id)] == [theirs.id]


@pytest.mark.parametrize("role", ["finance_officer", "admin", "auditor"])
def test_staff_read_every_citys_accounts(make: Factory, role: str):
    city = make.city()
    assert len(accounts(make.as_role(role), city.id)) == 1


def test_mentors_see_no_bank_account(make: Factory):
    city = make.city()
    mentor = make.as_role("mentor", mentor_of=(city,))
    refused(mentor.get(f"/cities/{city.id}/bank-accounts"), 403)
    refused(propose(mentor, city.id, iban=LV), 403)


@pytest.mark.parametrize("role", ["city_member", "admin", "auditor"])
def test_only_finance_officers_verify(make: Factory, world: dict[str, Any], role: str):
    account = propose(world["a"], world["city"].id, iban=LV).get_json()
    caller = make.in_scope(role, world["city"])
    refused(decide(caller, account["id"], "verify"), 403)
    refused(propose(make.as_role("auditor"), world["city"].id, iban=LV), 403)


def test_admins_and_finance_propose(world: dict[str, Any], make: Factory):
    r = propose(make.as_role("admin"), world["city"].id, iban=LV)
    assert r.status_code == 201, r.get_json()


# ---------------------------------------------------------------------------------------------
# Payouts against the verified account


def _approved(make: Factory, city: Any, member: Caller, a: Caller, b: Caller) -> Pilot:
    start, end = today() - dt.timedelta(days=10), today() + dt.timedelta(days=100)
    r = member.post(
        "/grants",
        {
            "title": "Harbour stories",
            "summary": "Stories of the harbour.",
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "budget_lines": [{"category": "fees", "description": "Fees", "amount": "4000.00"}],
        },
    )
    assert r.status_code == 201, r.get_json()
    gid = r.get_json()["id"]
    assert member.fire(gid, "submit").status_code == 200
    assert a.fire(gid, "approve").status_code == 200
    _sign_agreement(member, b, gid)
    return Pilot(city, member, a, b, gid, start, end)


def _sign_agreement(member: Caller, officer: Caller, gid: int) -> None:
    """The grant agreement signed by the city and countersigned (no advance before both)."""
    path = f"/grants/{gid}/agreement/transitions"
    r = member.post(path, {"event": "sign", "signatory_name": "Ilze Bērziņa"})
    if r.status_code == 404:  # no agreement on this grant
        return
    assert r.status_code == 200, r.get_json()
    r = officer.post(path, {"event": "countersign"})
    assert r.status_code == 200, r.get_json()


def _verified(world: dict[str, Any], iban: str, holder: str = "Municipality") -> dict[str, Any]:
    account = propose(world["member"], world["city"].id, iban=iban, holder=holder).get_json()
    r = decide(world["a"], account["id"], "verify")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_authorising_without_a_verified_account_is_409_account_unverified(
    make: Factory, world: dict[str, Any]
):
    pilot = _approved(make, world["city"], world["member"], world["a"], world["b"])
    refused(authorise(pilot.a, pilot.id, "advance"), 409, "account_unverified")
    # a pending account is not enough
    propose(world["member"], world["city"].id, iban=LV)
    refused(authorise(pilot.a, pilot.id, "advance"), 409, "account_unverified")
    assert pilot.payouts() == []
    assert pilot.get()["state"] == "approved"


def test_the_payout_keeps_a_copy_of_the_account_in_force_at_authorisation(
    make: Factory, world: dict[str, Any]
):
    pilot = _approved(make, world["city"], world["member"], world["a"], world["b"])
    in_force = _verified(world, LV, holder="Municipality of Rūjiena")
    r = authorise(pilot.a, pilot.id, "advance")
    assert r.status_code == 201, r.get_json()
    expected = {"id": in_force["id"], "holder": "Municipality of Rūjiena", "iban": LV_COMPACT}
    assert {k: r.get_json()["account"][k] for k in expected} == expected
    # a change proposed (not verified) afterwards changes nothing: it is paid as authorised
    propose(world["member"], world["city"].id, iban=PL, holder="Someone else")
    [payout] = pilot.payouts()
    assert payout["account"]["iban"] == LV_COMPACT
    r = pilot.b.post(f"/disbursements/{payout['id']}/transitions", confirm_body())
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["account"]["iban"] == LV_COMPACT


def test_a_change_verified_after_authorisation_refuses_the_confirmation(
    make: Factory, world: dict[str, Any]
):
    pilot = _approved(make, world["city"], world["member"], world["a"], world["b"])
    _verified(world, LV)
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    changed = propose(world["member"], world["city"].id, iban=PL).get_json()
    assert decide(world["b"], changed["id"], "verify").status_code == 200
    path = f"/disbursements/{payout['id']}/transitions"
    refused(pilot.b.post(path, confirm_body()), 409, "account_changed")
    [still] = pilot.payouts()
    assert (still["state"], still["account"]["iban"]) == ("authorised", LV_COMPACT)
    # cancel and authorise again: the new one goes to the new account and may be confirmed
    r = pilot.a.post(path, {"event": "cancel", "comment": "The city's account changed."})
    assert r.status_code == 200, r.get_json()
    again = authorise(pilot.a, pilot.id, "advance").get_json()
    assert again["account"]["iban"] == PL
    r = pilot.b.post(f"/disbursements/{again['id']}/transitions", confirm_body())
    assert r.status_code == 200, r.get_json()
    assert pilot.get()["state"] == "disbursed"


def test_the_payout_is_documented_with_its_account(client: Any):
    doc = client.get("/api/v1/openapi.json").get_json()
    payout = doc["components"]["schemas"]["Payout"]["properties"]["account"]
    assert "account_changed" in json.dumps(payout)


# ---------------------------------------------------------------------------------------------
# Concurrency (PostgreSQL): the city's row lock


@needs_postgres
def test_many_verifications_and_proposals_at_once_leave_one_account_in_force(
    make: Factory, live: Any
):
    city = make.city()  # one verified account in force already
    proposer = make.as_role("finance_officer")
    officers = [make.as_role("finance_officer") for _ in range(6)]
    members = [make.as_role("city_member", city=city) for _ in range(6)]
    db.session.commit()
    for round_ in range(3):
        pending = propose(proposer, city.id, iban=LV).get_json()
        verify = [
            ("POST", f"/bank-accounts/{pending['id']}/transitions", o.token, {"event": "verify"})
            for o in officers
        ]
        ibans = [PL, DE, LV, PL, DE, LV]
        proposals = [
            ("POST", f"/cities/{city.id}/bank-accounts", m.token, {"holder": "M", "iban": iban})
            for m, iban in zip(members, ibans, strict=True)
        ]
        calls = [c for pair in zip(verify, proposals, strict=True) for c in pair]
        replies = live.at_once(calls)
        verified = [r for r in replies[0::2] if r.status == 200]
        assert len(verified) <= 1, [r.text for r in replies]
        assert all(
            r.status == 409 and r.body["reason"] == "invalid_transition"
            for r in replies[0::2]
            if r.status != 200
        ), [r.text for r in replies[0::2]]
        assert [r.status for r in replies[1::2]] == [201] * 6, [r.text for r in replies[1::2]]
        db.session.expire_all()
        states = [
            a.state
            for a in db.session.scalars(select(BankAccount).where(BankAccount.city_id == city.id))
        ]
        assert states.count("verified") == 1, (round_, states)
        assert states.count("pending") == 1, (round_, states)


# ---------------------------------------------------------------------------------------------
# Pages


def test_pages_propose_as_the_city_and_verify_as_another_officer(
    make: Factory, world: dict[str, Any], pages: Any
):
    city = world["city"]
    member = pages(world["member"].user)
    page = member.get(f"/cities/{city.id}/bank-account")
    assert page.status_code == 200
    assert "no verified bank account" in page.text
    bad = member.post(
        f"/cities/{city.id}/bank-account",
        {"holder": "Municipality", "iban": "LV81 BANK 0000 4351 9500 1", "bic": ""},
    )
    assert bad.status_code == 422
    assert "check digits" in bad.text
    assert stored() == 0
    member.token = token_of(bad.text)
    r = member.post(
        f"/cities/{city.id}/bank-account", {"holder": "Municipality", "iban": LV, "bic": ""}
    )
    assert r.status_code == 302, r.text
    page = member.get(f"/cities/{city.id}/bank-account")
    assert "LV•• •••• •••• •••• •500 1" in page.text
    assert LV not in page.text and LV_COMPACT not in page.text  # masked for the city too
    [account] = db.session.scalars(select(BankAccount))
    finance = pages(world["a"].user)
    queue = finance.get("/bank-accounts")
    assert city.name in queue.text
    screen = finance.get(f"/bank-accounts/{account.id}")
    assert LV in screen.text  # the full IBAN, in groups of four, only here
    r = finance.post(f"/bank-accounts/{account.id}/verify")
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(BankAccount, account.id).state == "verified"


def test_the_proposing_officer_is_not_offered_verify_on_the_page(
    make: Factory, world: dict[str, Any], pages: Any
):
    account = propose(world["a"], world["city"].id, iban=LV).get_json()
    finance = pages(world["a"].user)
    screen = finance.get(f"/bank-accounts/{account['id']}")
    assert "another finance officer verifies it" in screen.text
    assert f"/bank-accounts/{account['id']}/verify" not in screen.text
    r = finance.post(f"/bank-accounts/{account['id']}/verify")
    assert r.status_code == 302
    assert r.location.endswith(f"/bank-accounts/{account['id']}")
    db.session.expire_all()
    assert db.session.get(BankAccount, account["id"]).state == "pending"


def test_another_citys_member_gets_404_on_the_page(make: Factory, pages: Any):
    city, other = make.city(), make.city()
    member = pages(make.user("city_member", city=city))
    assert member.get(f"/cities/{other.id}/bank-account").status_code == 404
    assert member.get(f"/cities/{city.id}/bank-account").status_code == 200
    mentor = pages(make.user("mentor", mentor_of=(city,)))
    assert mentor.get(f"/cities/{city.id}/bank-account").status_code == 403
