"""A refused page form comes back with everything typed and every error beside its field.

Issue 13 (item 2, and the form parts of item 1): after a refusal the page answers at once with
the form as it was sent (the amount and the comment of an approval, the bank reference of a
payout, a comment's text), every error in words beside the field it is about, all of them in
one round (cross-field rules too), named with the field's label and never its internal name;
an approval sent again exactly as it came back approves the amount typed, not the request.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

from grants.db import today
from grants.extensions import db
from grants.grant.models import Grant
from grants.users.models import User
from tests.factories import Factory
from tests.money_helpers import (
    COMMENT,
    Pilot,
    approved_grant,
    authorise,
    submitted_grant,
)
from tests.pages_helpers import Pages

#: What a page must never show a person: an internal field name (``start_date``).
INTERNAL_NAME = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


class _Page(HTMLParser):
    """The forms of a page (each field's value as the browser would send it), the text a
    person reads, and each field's error list."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self.text: list[str] = []
        self.errors: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self._form: dict[str, Any] | None = None
        self._textarea: str | None = None
        self._select: str | None = None
        self._option: str | None = None
        self._error_of: str | None = None
        self._label_for: str | None = None
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "style", "template"):
            self._hidden += 1
        if tag == "form":
            self._form = {"action": a.get("action", ""), "fields": []}
            self.forms.append(self._form)
        elif tag == "label":
            self._label_for = a.get("for")
            if self._label_for:
                self.labels[self._label_for] = ""
        elif tag == "ul" and a.get("id", "").endswith("-error"):
            self._error_of = a["id"][: -len("-error")]
            self.errors[self._error_of] = ""
        if self._form is None or self._hidden:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind == "submit":
                return
            self._form["fields"].append((name, a.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = name
            self._form["fields"].append((name, ""))
        elif tag == "select" and name:
            self._select, self._option = name, None
        elif tag == "option" and self._select and "selected" in a:
            self._option = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template"):
            self._hidden -= 1
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select and self._form is not None:
            self._form["fields"].append((self._select, self._option or ""))
            self._select = None
        elif tag == "ul":
            self._error_of = None
        elif tag == "label":
            self._label_for = None

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        self.text.append(data)
        if self._textarea and self._form is not None:
            name, value = self._form["fields"][-1]
            self._form["fields"][-1] = (name, value + data)
        if self._error_of:
            self.errors[self._error_of] += data
        if self._label_for:
            self.labels[self._label_for] += data


def read(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def form_of(html: str, action: str) -> dict[str, str]:
    """The fields of the form posted to ``action``, as the browser would send them again."""
    for form in read(html).forms:
        if form["action"].split("#")[0] == action:
            return dict(form["fields"])
    raise AssertionError(f"no form posted to {action}")


def visible_text(html: str) -> str:
    return " ".join(" ".join(read(html).text).split())


def error_beside(html: str, field_id: str) -> str:
    errors = read(html).errors
    assert field_id in errors, f"no error beside {field_id}: {sorted(errors)}"
    return re.sub(r"[ \t\r\n]+", " ", errors[field_id]).strip()


def assert_no_internal_names(html: str) -> None:
    found = INTERNAL_NAME.findall(visible_text(html))
    assert not found, f"internal names shown on the page: {found}"


def propose(pilot: Pilot, amount: str) -> int:
    """Another proposal of ``pilot``'s city, under the same title, submitted."""
    r = pilot.member.post(
        "/grants",
        {
            "title": "Lantern walk",
            "summary": "",
            "start_date": pilot.start.isoformat(),
            "end_date": pilot.end.isoformat(),
            "budget_lines": [{"category": "fees", "description": "Guides", "amount": amount}],
        },
    )
    assert r.status_code == 201, r.get_json()
    gid = r.get_json()["id"]
    assert pilot.member.fire(gid, "submit").status_code == 200
    return gid


def _grant(gid: int) -> Grant:
    db.session.expire_all()
    return db.session.get(Grant, gid)


# ---------------------------------------------------------------------------------------------
# The approval


def test_a_refused_approval_keeps_amount_and_comment_and_sent_again_approves_what_was_typed(
    make: Factory, pages: Any
) -> None:
    pilot = submitted_grant(make, "4000.00")
    other = propose(pilot, "3000.00")
    assert pilot.a.fire(other, "approve").status_code == 200  # 3,000.00 of 5,000.00 committed
    officer = pages(pilot.a.user)
    path = f"/grants/{pilot.id}/events/approve"
    shown = form_of(officer.get(f"/grants/{pilot.id}").text, path)
    assert shown["approved_amount"] == "4000.00"  # what is sent is what is seen
    typed = "This pilot fits the title's aims; the rest next year."
    r = officer.post(path, {**shown, "approved_amount": "2 500,00", "comment": typed})
    assert r.status_code == 409
    # The form as it was typed, and beside the amount the figures that decided it.
    sent_back = form_of(r.text, path)
    assert sent_back["approved_amount"] == "2 500,00"
    assert sent_back["comment"] == typed
    beside = error_beside(r.text, "approved_amount")
    assert "2,500.00\u00a0EUR is more than the title's seed money left" in beside
    assert "cap 5,000.00\u00a0EUR" in beside
    assert "committed 3,000.00\u00a0EUR" in beside
    assert "available 2,000.00\u00a0EUR" in beside
    assert 'aria-invalid="true"' in r.text
    assert_no_internal_names(r.text)
    assert _grant(pilot.id).state == "submitted"
    # The other pilot ends and frees its 3,000.00; the form is sent again exactly as it came
    # back: 2,500.00 are approved, not the 4,000.00 asked for.
    assert pilot.a.fire(other, "terminate", comment=COMMENT).status_code == 200
    r = officer.post(path, sent_back)
    assert r.status_code == 302, r.text
    grant = _grant(pilot.id)
    assert grant.state == "approved"
    assert grant.approved_cents == 250_000


def test_an_empty_approved_amount_is_refused_on_the_page_not_read_as_the_request(
    make: Factory, pages: Any
) -> None:
    pilot = submitted_grant(make, "4000.00")
    officer = pages(pilot.a.user)
    path = f"/grants/{pilot.id}/events/approve"
    r = officer.post(path, {"approved_amount": "", "comment": "Fine."})
    assert r.status_code == 422
    assert "Please fill in the amount to approve, like 4000.00." in error_beside(
        r.text, "approved_amount"
    )
    sent_back = form_of(r.text, path)
    assert (sent_back["approved_amount"], sent_back["comment"]) == ("", "Fine.")
    assert _grant(pilot.id).state == "submitted"


def test_a_refused_request_for_changes_marks_its_comment_box(make: Factory, pages: Any) -> None:
    pilot = submitted_grant(make)
    officer = pages(pilot.a.user)
    r = officer.post(f"/grants/{pilot.id}/events/request_changes", {"comment": "  "})
    assert r.status_code == 422
    html = r.text
    assert "A comment is required to request changes." in error_beside(
        html, "comment-request_changes"
    )
    labels = read(html).labels
    assert labels["comment-request_changes"] == "What the city should change (required)"
    # Only that box is marked; the approval's form beside it is as it was.
    assert "approved_amount" not in read(html).errors
    assert "comment-approve" not in read(html).errors
    assert "Please correct the fields marked below." in html
    assert_no_internal_names(html)


def test_a_refused_rejection_opens_its_zone_and_says_why_beside_the_box(
    make: Factory, pages: Any
) -> None:
    pilot = submitted_grant(make)
    r = pages(pilot.a.user).post(f"/grants/{pilot.id}/events/reject", {"comment": ""})
    assert r.status_code == 422
    assert '<details class="danger-zone" open>' in r.text
    assert "A comment is required to reject." in error_beside(r.text, "comment-reject")
    assert read(r.text).labels["comment-reject"] == "Reason for rejecting (required)"
    assert _grant(pilot.id).state == "submitted"


def test_a_refused_termination_keeps_nothing_half_done(make: Factory, pages: Any) -> None:
    pilot = approved_grant(make, "1000.00")
    r = pages(pilot.a.user).post(f"/grants/{pilot.id}/events/terminate", {"comment": ""})
    assert r.status_code == 422
    assert "A comment is required to terminate." in error_beside(r.text, "comment-terminate")
    assert read(r.text).labels["comment-terminate"] == "Reason for terminating (required)"
    assert _grant(pilot.id).state == "approved"


def test_the_decision_boxes_have_labels_of_their_own(make: Factory, pages: Any) -> None:
    pilot = submitted_grant(make)
    labels = read(pages(pilot.a.user).get(f"/grants/{pilot.id}").text).labels
    boxes = {k: v for k, v in labels.items() if k.startswith("comment-")}
    assert boxes == {
        "comment-approve": "Approval comment (optional)",
        "comment-request_changes": "What the city should change (required)",
        "comment-reject": "Reason for rejecting (required)",
        "comment-body": "Your comment",
    }
    assert len(set(labels.values())) == len(labels), labels


# ---------------------------------------------------------------------------------------------
# Payouts


def test_a_refused_payout_keeps_the_amount_typed_and_says_why_beside_it(
    make: Factory, pages: Any
) -> None:
    pilot = approved_grant(make, "1000.00")
    officer = pages(pilot.a.user)
    path = f"/grants/{pilot.id}/payouts"
    r = officer.post(path, {"kind": "advance", "amount": "1200.00"})
    assert r.status_code == 409
    assert form_of(r.text, path)["amount"] == "1200.00"
    assert "A payout of 1200.00 exceeds what remains of the approved amount." in error_beside(
        r.text, "payout-amount-advance"
    )
    r = officer.post(path, {"kind": "advance", "amount": "12,5x"})
    assert r.status_code == 422
    assert form_of(r.text, path)["amount"] == "12,5x"
    assert "Must have the form" in error_beside(r.text, "payout-amount-advance")
    assert pilot.payouts() == []


def test_a_refused_confirmation_keeps_date_and_reference(make: Factory, pages: Any) -> None:
    pilot = approved_grant(make, "1000.00")
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    confirmer = pages(pilot.b.user)
    path = f"/payouts/{payout['id']}/confirm_paid"
    html = confirmer.get(f"/grants/{pilot.id}").text
    labels = read(html).labels
    assert labels[f"ref-{payout['id']}"] == "Bank reference, advance of 500.00\u00a0EUR"
    assert labels[f"paid_on-{payout['id']}"] == "Paid on, advance of 500.00\u00a0EUR"
    # Both missing: both said at once, each beside its field.
    r = confirmer.post(path, {"paid_on": "", "payment_reference": ""})
    assert r.status_code == 422
    assert "Required to confirm a payout." in error_beside(r.text, f"paid_on-{payout['id']}")
    assert "Required to confirm a payout." in error_beside(r.text, f"ref-{payout['id']}")
    # A date in the future: refused beside the date, the reference kept as typed.
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    r = confirmer.post(path, {"paid_on": tomorrow, "payment_reference": "BANK-77"})
    assert r.status_code == 422
    assert form_of(r.text, path)["payment_reference"] == "BANK-77"
    assert form_of(r.text, path)["paid_on"] == tomorrow
    assert "cannot lie in the future" in error_beside(r.text, f"paid_on-{payout['id']}")
    assert_no_internal_names(r.text)
    assert pilot.payouts()[0]["state"] == "authorised"


# ---------------------------------------------------------------------------------------------
# Comments


def test_a_refused_comment_keeps_its_text_and_who_sees_it(make: Factory, pages: Any) -> None:
    city = make.city()
    grant = make.grant(city)
    mentor = make.user("mentor", mentor_of=(city,))
    db.session.commit()
    p = pages(mentor)
    typed = "Between us:\x0b the venue is small."
    path = f"/grants/{grant.id}/comments"
    r = p.post(path, {"body": typed, "visibility": "internal"})
    assert r.status_code == 422
    sent_back = form_of(r.text, path)
    assert sent_back["body"] == typed
    assert sent_back["visibility"] == "internal"
    assert "a line break from a word processor" in error_beside(r.text, "comment-body")
    assert "No comment yet." in r.text


# ---------------------------------------------------------------------------------------------
# The proposal form


def _proposal(member: Pages, path: str, **fields: str) -> Any:
    body = {
        "title": "",
        "summary": "Walks along the harbour.",
        "start_date": "",
        "end_date": "",
        "budget_lines-0-category": "fees",
        "budget_lines-0-description": "Guides",
        "budget_lines-0-amount": "",
        "budget_lines-1-category": "",
        "budget_lines-1-description": "Lanterns",
        "budget_lines-1-amount": "",
        "op": "save",
    }
    return member.post(path, {**body, **fields})


def test_a_proposal_with_several_bad_fields_gets_every_error_in_one_answer(
    make: Factory, pages: Any
) -> None:
    city = make.city(valid_from=today() - dt.timedelta(days=30))
    member = make.user("city_member", city=city)
    db.session.commit()
    p = pages(member)
    p.get("/grants/new")
    start = today() + dt.timedelta(days=20)
    r = _proposal(
        p,
        "/grants/new",
        title="",
        start_date=start.isoformat(),
        end_date=(start - dt.timedelta(days=5)).isoformat(),
        **{"budget_lines-0-amount": "12,3x", "budget_lines-1-amount": "80.00"},
    )
    assert r.status_code == 422
    html = r.text
    # One round: the field errors and the rule across two fields together.
    assert error_beside(html, "title") == "Please fill this in."
    assert error_beside(html, "end_date") == "Must not be before the start date."
    assert error_beside(html, "budget_lines-0-amount").startswith("Must have the form")
    assert error_beside(html, "budget_lines-1-category") == "Please fill this in."
    # The message above counts them; each is said beside its field only.
    assert "Please correct the fields marked below. 4 fields need correcting." in html
    assert_no_internal_names(html)
    # Everything typed is still there.
    sent_back = form_of(html, "/grants/new")
    assert sent_back["start_date"] == start.isoformat()
    assert sent_back["summary"] == "Walks along the harbour."
    assert sent_back["budget_lines-0-amount"] == "12,3x"
    assert sent_back["budget_lines-1-description"] == "Lanterns"
    labels = read(html).labels
    assert labels["budget_lines-1-amount"] == "Amount (EUR), line 2"
    assert labels["budget_lines-0-category"] == "Category, line 1"
    assert db.session.query(Grant).count() == 0


def test_an_edit_refused_keeps_what_was_typed_and_says_all_at_once(
    make: Factory, pages: Any
) -> None:
    city = make.city(valid_from=today() - dt.timedelta(days=30))
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member)
    db.session.commit()
    p = pages(member)
    path = f"/grants/{grant.id}/edit"
    shown = form_of(p.get(path).text, path)
    end = dt.date.fromisoformat(shown["start_date"]) - dt.timedelta(days=1)
    r = p.post(
        path,
        {**shown, "title": "", "end_date": end.isoformat(), "budget_lines-0-amount": "abc"},
    )
    assert r.status_code == 422
    assert error_beside(r.text, "title") == "Please fill this in."
    assert error_beside(r.text, "end_date") == "Must not be before the start date."
    assert error_beside(r.text, "budget_lines-0-amount").startswith("Must have the form")
    assert form_of(r.text, path)["end_date"] == end.isoformat()
    assert_no_internal_names(r.text)


# ---------------------------------------------------------------------------------------------
# The admins' user forms


def test_a_refused_new_user_keeps_the_choices_and_says_every_error(
    make: Factory, pages: Any
) -> None:
    city = make.city("Sopot", country="PL")
    admin = make.user("admin")
    db.session.commit()
    p = pages(admin)
    p.get("/admin/users")
    r = p.post(
        "/admin/users",
        {"email": "not-an-address", "password": "short", "role": "city_member", "city_id": ""},
    )
    assert r.status_code == 422
    html = r.text
    assert error_beside(html, "email") == "Not a valid email address."
    assert error_beside(html, "password") == "Use 10 to 1024 characters."
    # The rule across fields (a city member belongs to a city) in the same round.
    assert error_beside(html, "city_id") == "A city member needs a city."
    sent_back = form_of(html, "/admin/users")
    assert sent_back["email"] == "not-an-address"
    assert sent_back["role"] == "city_member"
    assert "password" in sent_back and sent_back["password"] == ""  # never sent back
    assert "Please correct the fields marked below. 3 fields need correcting." in html
    assert_no_internal_names(html)
    assert city.id


def test_a_refused_account_change_keeps_the_role_chosen(make: Factory, pages: Any) -> None:
    admin = make.user("admin")
    target = make.user("auditor")
    db.session.commit()
    p = pages(admin)
    path = f"/admin/users/{target.id}"
    shown = form_of(p.get(path).text, path)
    r = p.post(path, {**shown, "role": "city_member", "city_id": ""})
    assert r.status_code == 422
    assert error_beside(r.text, "city_id") == "A city member needs a city."
    sent_back = form_of(r.text, path)
    assert sent_back["role"] == "city_member"  # as chosen, not the account's auditor
    assert_no_internal_names(r.text)
    db.session.expire_all()
    assert db.session.get(User, target.id).role == "auditor"


def test_a_title_with_its_end_before_its_start_and_a_bad_year_says_both(
    make: Factory, pages: Any
) -> None:
    city = make.city("Kuressaare", country="EE")
    admin = make.user("admin")
    db.session.commit()
    p = pages(admin)
    path = f"/admin/cities/{city.id}"
    p.get(path)
    r = p.post(
        path,
        {"year": "1999", "cap": "", "valid_from": "2027-06-01", "valid_until": "2027-01-01"},
    )
    assert r.status_code == 422
    assert "greater than or equal to 2000" in error_beside(r.text, "year")
    assert error_beside(r.text, "valid_until") == "Must not be before the first day of the title."
    assert_no_internal_names(r.text)


def test_a_confirmation_refused_from_the_queue_comes_back_in_the_queue(
    make: Factory, pages: Any
) -> None:
    pilot = approved_grant(make, "1000.00")
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    confirmer = pages(pilot.b.user)
    path = f"/payouts/{payout['id']}/confirm_paid"
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    r = confirmer.post(path, {"back": "dashboard", "paid_on": yesterday, "payment_reference": ""})
    assert r.status_code == 422
    assert "Payouts to confirm" in r.text or "to-confirm" in r.text  # the work queue again
    sent_back = form_of(r.text, path)
    assert sent_back["paid_on"] == yesterday
    assert sent_back["back"] == "dashboard"
    assert "Required to confirm a payout." in error_beside(r.text, f"ref-{payout['id']}")
    assert (
        read(r.text).labels[f"ref-{payout['id']}"] == "Bank reference, advance of 500.00\u00a0EUR"
    )
    assert pilot.payouts()[0]["state"] == "authorised"


def test_more_than_requested_is_said_beside_the_amount(make: Factory, pages: Any) -> None:
    pilot = submitted_grant(make, "2300.50")
    officer = pages(pilot.a.user)
    path = f"/grants/{pilot.id}/events/approve"
    r = officer.post(path, {"approved_amount": "2 400,00", "comment": "Fine."})
    assert r.status_code == 409
    assert "exceeds the requested" in error_beside(r.text, "approved_amount")
    assert form_of(r.text, path)["approved_amount"] == "2 400,00"


def test_every_error_in_one_422_of_the_api_too_and_one_reason_per_field(make: Factory) -> None:
    """The cross-field rules run with the field errors in the API's 422 as well; a rule's error
    about a field that is refused already is left out (a list's per-item errors stay as they
    are: mixed with a message about the list, the answer could not be written)."""
    admin = make.as_role("admin")
    r = admin.post(
        "/users",
        {"email": "x@pearl.example", "role": "city_member", "mentor_city_ids": [1, "AAA"]},
    )
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    errors = r.get_json()["errors"]["json"]
    assert errors["password"] == ["Missing data for required field."]
    assert errors["mentor_city_ids"] == {"1": ["Not a valid integer."]}
    member = make.as_role("city_member", city=make.city(valid_from=today()))
    start = today() + dt.timedelta(days=9)
    r = member.post(
        "/grants",
        {
            "title": "",
            "start_date": start.isoformat(),
            "end_date": (start - dt.timedelta(days=1)).isoformat(),
            "budget_lines": [],
        },
    )
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]["json"]
    assert "title" in errors and errors["end_date"] == ["Must not be before start_date."]
