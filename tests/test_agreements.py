"""The grant agreement (issue 14, item 1): issued as a PDF on approval, signed by the city,
countersigned by finance, and no advance before both."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from grants.agreements.pdf import FONTS
from grants.db import today
from tests.factories import Factory
from tests.money_helpers import Pilot, authorise, refused, sign_agreement
from tests.pages_helpers import Pages
from tests.test_next_steps import actions, step_buttons

#: Polish and Latvian letters that must survive into the PDF's text.
CITY = "Łęczyca-Āraiši"
TITLE = "Żywe pieśni: ļaužu dziesmas un ņiprās šūpuļdziesmas"


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def pilot(make: Factory) -> Pilot:
    """A submitted proposal of a Polish city with a Latvian-Polish title, then approved for
    3,210.55 EUR of the requested 3,300.00 EUR: its agreement waits for the city."""
    city = make.city(CITY, country="PL", valid_from=today() - dt.timedelta(days=30))
    member = make.as_role("city_member", city=city)
    a, b = make.as_role("finance_officer"), make.as_role("finance_officer")
    start, end = today() + dt.timedelta(days=5), today() + dt.timedelta(days=105)
    r = member.post(
        "/grants",
        {
            "title": TITLE,
            "summary": "Pieśni ludowe śpiewane przez mieszkańców; dziesmas ģimenēm.",
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "budget_lines": [
                {"category": "fees", "description": "Honoraria śpiewaków", "amount": "2100.00"},
                {"category": "venue", "description": "Zāles īre", "amount": "1200.00"},
            ],
        },
    )
    assert r.status_code == 201, r.get_json()
    gid = r.get_json()["id"]
    assert member.fire(gid, "submit").status_code == 200
    r = a.fire(gid, "approve", approved_amount="3210.55")
    assert r.status_code == 200, r.get_json()
    return Pilot(city, member, a, b, gid, start, end)


def test_the_advance_is_refused_before_both_signatures_then_allowed(pilot: Pilot) -> None:
    refused(authorise(pilot.a, pilot.id, "advance"), 409, "agreement_missing")
    path = f"/grants/{pilot.id}/agreement/transitions"
    r = pilot.member.post(path, {"event": "sign", "signatory_name": "Agnieszka Wójcik"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "awaiting_countersignature"
    # The city alone is not enough.
    refused(authorise(pilot.a, pilot.id, "advance"), 409, "agreement_missing")
    r = pilot.b.post(path, {"event": "countersign"})
    assert r.status_code == 200, r.get_json()
    signed = r.get_json()
    assert signed["state"] == "signed"
    assert signed["city_signatory_name"] == "Agnieszka Wójcik"
    assert signed["city_signed_by"] == pilot.member.user.id
    assert signed["countersigned_by"] == pilot.b.user.id
    assert signed["city_signed_by_email"] == pilot.member.user.email
    r = authorise(pilot.a, pilot.id, "advance")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["amount"] == "1605.27"  # half of 3,210.55, rounded down

    actions = [e for e in pilot.history() if e["action"].startswith("agreement_")]
    assert [e["action"] for e in actions] == ["agreement_signed", "agreement_countersigned"]
    signing = actions[0]["data"]
    assert signing["signatory_name"] == "Agnieszka Wójcik"
    assert signing["sha256"] == signed["sha256"]
    assert signing["address"] == "127.0.0.1"
    (approval,) = [e for e in pilot.history() if e["action"] == "approve"]
    assert approval["data"]["agreement"]["version"] == 1
    assert approval["data"]["agreement"]["sha256"] == signed["sha256"]


def test_the_pdf_names_the_city_the_amount_and_the_dates_in_their_own_letters(
    pilot: Pilot, app: Any
) -> None:
    r = pilot.member.get(f"/grants/{pilot.id}/agreement/file")
    assert r.status_code == 200
    assert r.mimetype == "application/pdf"
    text = pdf_text(r.data)
    flat = " ".join(text.split())
    assert CITY in flat
    assert "Poland (PL)" in flat
    assert "Żywe pieśni: ļaužu dziesmas un ņiprās" in flat
    assert "3,210.55 EUR" in flat  # the approved amount
    assert "3,300.00 EUR" in flat  # the budget's total
    assert "Honoraria śpiewaków" in flat and "Zāles īre" in flat
    assert "1,605.27 EUR" in flat  # the advance
    assert "up to 1,605.28 EUR" in flat  # the balance at most

    def day(d: dt.date) -> str:
        return f"{d.day} {d:%B} {d.year}"

    assert f"{day(pilot.start)} to {day(pilot.end)}" in flat
    interim = pilot.start + dt.timedelta(days=(pilot.end - pilot.start).days // 2)
    final = pilot.end + dt.timedelta(days=app.config["FINAL_REPORT_DUE_DAYS"])
    due = {d["kind"]: d["due_on"] for d in pilot.get()["reports_due"]}
    assert due == {"interim": interim.isoformat(), "final": final.isoformat()}
    assert (
        f"Interim report Activities so far and the expenses paid, with receipts {day(interim)}"
        in flat
    )
    assert day(final) in flat
    assert "5 years from 31 December" in flat  # the retention rule
    assert f"For the city of {CITY}" in flat


def test_the_served_file_is_the_one_whose_hash_the_api_gives_and_it_states_its_terms_hash(
    pilot: Pilot,
) -> None:
    agreement = pilot.member.get(f"/grants/{pilot.id}/agreement").get_json()
    assert agreement["version"] == 1
    assert agreement["state"] == "awaiting_city"
    first = pilot.a.get(f"/grants/{pilot.id}/agreement/file").data
    second = pilot.member.get(f"/grants/{pilot.id}/agreement/file").data
    assert first == second  # the same bytes every time
    assert hashlib.sha256(first).hexdigest() == agreement["sha256"]
    # The document states the SHA-256 of its terms, which it carries as terms.json.
    reader = PdfReader(io.BytesIO(first))
    (terms,) = reader.attachments["terms.json"]
    assert hashlib.sha256(terms).hexdigest() == agreement["terms_sha256"]
    assert agreement["terms_sha256"] in " ".join(pdf_text(first).split())
    assert json.loads(terms)["approved_cents"] == 321055


def test_another_citys_member_gets_404_and_so_does_a_grant_not_yet_approved(
    pilot: Pilot, make: Factory
) -> None:
    stranger = make.as_role("city_member", city=make.city("Elsewhere"))
    for path in ("/agreement", "/agreement/file"):
        assert stranger.get(f"/grants/{pilot.id}{path}").status_code == 404
    r = stranger.post(
        f"/grants/{pilot.id}/agreement/transitions", {"event": "sign", "signatory_name": "X Y"}
    )
    assert r.status_code == 404
    draft = make.grant(pilot.city, state="submitted")
    assert pilot.a.get(f"/grants/{draft.id}/agreement").status_code == 404
    assert pilot.a.get(f"/grants/{draft.id}/agreement/file").status_code == 404


def test_signing_twice_or_countersigning_first_is_invalid_transition(pilot: Pilot) -> None:
    path = f"/grants/{pilot.id}/agreement/transitions"
    refused(pilot.a.post(path, {"event": "countersign"}), 409, "invalid_transition")
    sign = {"event": "sign", "signatory_name": "Jānis Bērziņš"}
    assert pilot.member.post(path, sign).status_code == 200
    refused(pilot.member.post(path, sign), 409, "invalid_transition")
    sign_again = pilot.member.get(f"/grants/{pilot.id}/agreement").get_json()
    assert sign_again["city_signatory_name"] == "Jānis Bērziņš"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "sign", "signatory_name": "Anna\u0000Nowak"}, "signatory_name"),
        ({"event": "sign", "signatory_name": "Anna\nNowak"}, "signatory_name"),
        ({"event": "sign"}, "signatory_name"),
        ({"event": "sign", "signatory_name": "   "}, "signatory_name"),
        ({"event": "sign", "signatory_name": "A" * 201}, "signatory_name"),
    ],
)
def test_a_signatory_name_with_control_characters_or_none_is_422(
    pilot: Pilot, body: dict[str, Any], field: str
) -> None:
    r = pilot.member.post(f"/grants/{pilot.id}/agreement/transitions", body)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"]["json"]
    assert pilot.member.get(f"/grants/{pilot.id}/agreement").get_json()["state"] == "awaiting_city"


def test_roles_other_than_the_signing_ones_are_403(pilot: Pilot, make: Factory) -> None:
    path = f"/grants/{pilot.id}/agreement/transitions"
    refused(pilot.a.post(path, {"event": "sign", "signatory_name": "Eva Holm"}), 403)
    refused(pilot.member.post(path, {"event": "countersign"}), 403)
    for role in ("mentor", "auditor"):
        caller = make.in_scope(role, pilot.city)
        refused(caller.post(path, {"event": "countersign"}), 403)
    admin = make.as_role("admin")
    sign_agreement(pilot.member, admin, pilot.id)  # an admin may countersign


def test_the_grant_page_offers_sign_then_countersign_before_the_advance(
    pilot: Pilot, app: Any
) -> None:
    def page_of(user: Any) -> Pages:
        p = Pages(app.test_client())
        assert p.sign_in(user.email).status_code == 302
        return p

    city, finance = page_of(pilot.member.user), page_of(pilot.a.user)
    html = city.get(f"/grants/{pilot.id}").text
    assert step_buttons(actions(html))[0] == "Sign the agreement"
    assert "Grant agreement</h2>" in html
    panel = actions(finance.get(f"/grants/{pilot.id}").text)
    assert "Authorise the advance" not in step_buttons(panel)
    assert "the grant agreement (version 1) is not signed" in panel.lower()

    blank = city.post(f"/grants/{pilot.id}/agreement/sign", {"signatory_name": ""})
    assert blank.status_code == 422
    assert "Type your full name to sign." in blank.text
    done = city.post(f"/grants/{pilot.id}/agreement/sign", {"signatory_name": "Ewa Ślęzak"})
    assert done.status_code == 302
    panel = actions(finance.get(f"/grants/{pilot.id}").text)
    assert step_buttons(panel)[0] == "Countersign the agreement"
    assert finance.post(f"/grants/{pilot.id}/agreement/countersign", {}).status_code == 302
    panel = actions(finance.get(f"/grants/{pilot.id}").text)
    assert step_buttons(panel)[0] == "Authorise the advance"
    pdf = city.get(f"/grants/{pilot.id}/agreement.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


def test_the_bundled_fonts_have_every_letter_of_the_bsr_languages() -> None:
    letters = "łąęėįųūāēīļņķģšžõäöüøåæß" + "żźćńóśč"
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        cmap = TTFont(FONTS / name).getBestCmap()
        # "ß".upper() is "SS"; the capital ẞ is checked on its own.
        missing = [c for c in letters + letters.upper() + "ẞ" if len(c) == 1 and ord(c) not in cmap]
        assert missing == [], name
    assert (FONTS / "LICENSE").read_text().startswith("DejaVu fonts")


def test_grants_approved_before_agreements_get_one_from_the_command_line(
    app: Any, make: Factory
) -> None:
    city = make.city(CITY, country="PL")
    older = make.grant(city, state="approved", agreement=None)
    draft = make.grant(city, state="submitted")
    officer = make.as_role("finance_officer")
    refused(authorise(officer, older.id, "advance"), 409, "agreement_missing")
    result = app.test_cli_runner().invoke(args=["agreements", "issue-missing"])
    assert result.exit_code == 0, result.output
    assert "issued 1 agreements" in result.output
    agreement = officer.get(f"/grants/{older.id}/agreement").get_json()
    assert (agreement["version"], agreement["state"]) == (1, "awaiting_city")
    assert officer.get(f"/grants/{draft.id}/agreement").status_code == 404
    again = app.test_cli_runner().invoke(args=["agreements", "issue-missing"])
    assert "issued 0 agreements" in again.output
