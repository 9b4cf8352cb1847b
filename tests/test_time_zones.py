"""Times in each user's time zone, with UTC on hover (issue 13, item 7).

A user's ``time_zone`` (an IANA name, set on their own settings page) makes the server write
every time of the pages in that zone; without one the server writes UTC and the browser
rewrites it in its own zone (app.js). The title of each ``<time>`` keeps UTC. Dates are never
shifted, and the API stays in UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from grants import audit
from grants.audit import Action, AuditEvent
from grants.extensions import db
from grants.http.web import time_element
from grants.users.models import User
from tests.factories import PASSWORD, Factory
from tests.money_helpers import submitted_grant
from tests.test_pages_browser import _AXE_RUN, AXE, CHROMIUM

#: The moment of the test's events: 18:20 UTC, 20:20 in Riga and Helsinki (EET, UTC+2).
MOMENT = dt.datetime(2026, 12, 4, 18, 20, 5, tzinfo=dt.UTC)


def axe_violations(page: Any) -> list[str]:
    """axe-core's violations on ``page`` (none checked where the npm package is missing)."""
    if not AXE.exists():
        return []
    page.evaluate(AXE.read_text(encoding="utf-8"))
    return list(page.evaluate(_AXE_RUN))


@pytest.fixture
def at_1820(monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit events recorded from now on are stamped 18:20 UTC on 4 December 2026."""
    monkeypatch.setattr(audit, "utcnow", lambda: MOMENT)


def history_times(html: str) -> list[str]:
    table = html.split('<table class="history">')[1].split("</table>")[0]
    return re.findall(r"<time [^>]*>[^<]*</time>", table)


def zone_of(app: Any, user: Any) -> str | None:
    db.session.expire_all()
    return db.session.get(User, user.id).time_zone


def test_a_time_in_a_zone_names_the_zone_and_keeps_utc_in_its_title() -> None:
    riga = str(time_element(MOMENT, ZoneInfo("Europe/Riga")))
    assert riga == (
        '<time datetime="2026-12-04T18:20:05Z" title="2026-12-04 18:20 UTC">'
        "2026-12-04 20:20 EET</time>"
    )
    summer = str(time_element(MOMENT.replace(month=7), ZoneInfo("Europe/Riga")))
    assert ">2026-07-04 21:20 EEST</time>" in summer  # summer time: UTC+3
    browser = str(time_element(MOMENT, None))
    assert browser == (
        '<time datetime="2026-12-04T18:20:05Z" title="2026-12-04 18:20 UTC" data-local-time>'
        "2026-12-04 18:20 UTC</time>"
    )


def test_a_user_in_riga_reads_2020_for_an_event_at_1820_utc(
    make: Factory, pages: Any, app: Any, at_1820: None
) -> None:
    pilot = submitted_grant(make, "1000.00")
    officer = pages(pilot.a.user)
    r = officer.post("/settings", {"time_zone": "Europe/Riga"})
    assert r.status_code == 302
    assert zone_of(app, pilot.a.user) == "Europe/Riga"
    html = officer.get(f"/grants/{pilot.id}").text
    times = history_times(html)
    assert times and all(">2026-12-04 20:20 EET</time>" in t for t in times), times
    assert all('title="2026-12-04 18:20 UTC"' in t for t in times)
    assert all("data-local-time" not in t for t in times)  # the server did it: no rewrite
    # Dates are not shifted: the pilot's dates read as they were proposed.
    assert f"Pilot from {pilot.start.isoformat()} to {pilot.end.isoformat()}." in html
    # The city's member has no setting: UTC from the server, for the browser to rewrite.
    member_times = history_times(pages(pilot.member.user).get(f"/grants/{pilot.id}").text)
    assert member_times and all("data-local-time>2026-12-04 18:20 UTC<" in t for t in member_times)
    # The API stays in UTC.
    history = pilot.a.get(f"/grants/{pilot.id}/history").get_json()
    assert history[0]["at"].startswith("2026-12-04T18:20:05")
    assert history[0]["at"].endswith(("+00:00", "Z"))


def test_the_settings_page_sets_and_clears_the_zone_and_the_trail_records_it(
    make: Factory, pages: Any, app: Any
) -> None:
    user = make.user("mentor")
    page = pages(user)
    form = page.get("/settings").text
    assert '<label for="time_zone">Time zone</label>' in form
    assert '<option value="Europe/Riga">' in form
    assert 'href="/settings"' in form  # the header links to it
    r = page.post("/settings", {"time_zone": " Europe/Riga "})
    assert r.status_code == 302
    assert "Times are now shown in Europe/Riga." in page.get("/settings").text
    assert 'value="Europe/Riga"' in page.get("/settings").text
    assert page.post("/settings", {"time_zone": ""}).status_code == 302
    assert zone_of(app, user) is None
    changes = db.session.scalars(
        select(AuditEvent.data)
        .where(AuditEvent.action == Action.USER_UPDATED, AuditEvent.subject_id == user.id)
        .order_by(AuditEvent.id)
    ).all()
    assert changes == [
        {"time_zone": {"from": None, "to": "Europe/Riga"}},
        {"time_zone": {"from": "Europe/Riga", "to": None}},
    ]


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "../../etc/passwd", "Europe/riga", "x" * 90])
def test_a_bad_zone_is_refused_in_words_and_changes_nothing(
    make: Factory, pages: Any, app: Any, bad: str
) -> None:
    user = make.user("finance_officer")
    page = pages(user)
    assert page.post("/settings", {"time_zone": "Europe/Helsinki"}).status_code == 302
    events = db.session.scalar(select(db.func.count(AuditEvent.id)))
    r = page.post("/settings", {"time_zone": bad})
    assert r.status_code == 422
    field = r.text.split('<div class="field has-error">')[1].split("</div>")[0]
    assert "This is not a time zone we know." in field
    assert f'value="{bad}"' in field  # what was typed is kept
    assert 'aria-invalid="true"' in field
    assert zone_of(app, user) == "Europe/Helsinki"
    assert db.session.scalar(select(db.func.count(AuditEvent.id))) == events


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium (.ci/run installs it with apt-get)",
)
def test_without_a_setting_the_browser_shows_its_own_zone_with_utc_on_hover(
    make: Factory, live: Any, at_1820: None
) -> None:
    from playwright.sync_api import sync_playwright

    pilot = submitted_grant(make, "1000.00")
    email = pilot.a.user.email
    db.session.commit()
    db.session.remove()  # the test's own session holds no lock while the browser works
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context(timezone_id="Europe/Helsinki")
            page = context.new_page()
            page.goto(f"{live.base_url}/login")
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(re.compile(r".*/dashboard$"))
            page.goto(f"{live.base_url}/grants/{pilot.id}")
            first = page.locator("table.history time").first
            assert first.inner_text() == "2026-12-04 20:20 EET"
            assert first.get_attribute("title") == "2026-12-04 18:20 UTC"
            first.hover()
            problems = [f"grant: {v}" for v in axe_violations(page)]
            page.goto(f"{live.base_url}/settings")
            assert "(it says Europe/Helsinki)" in page.locator("#time_zone-hint").inner_text()
            problems += [f"settings: {v}" for v in axe_violations(page)]
            page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
            page.get_by_role("button", name="Save").click()
            assert "This is not a time zone we know." in page.locator(".field-errors").inner_text()
            problems += [f"settings refused: {v}" for v in axe_violations(page)]
            assert not problems, problems
            # A setting wins over the browser's zone: the server writes New York's time.
            page.get_by_label("Time zone").fill("America/New_York")
            page.get_by_role("button", name="Save").click()
            page.goto(f"{live.base_url}/grants/{pilot.id}")
            first = page.locator("table.history time").first
            assert first.inner_text() == "2026-12-04 13:20 EST"
            assert first.get_attribute("title") == "2026-12-04 18:20 UTC"
        finally:
            browser.close()


def test_an_admin_sets_a_users_zone_on_the_user_page(make: Factory, pages: Any, app: Any) -> None:
    target = make.user("auditor")
    admin = pages(make.user("admin"))
    html = admin.get(f"/admin/users/{target.id}").text
    assert f'action="/admin/users/{target.id}/time-zone"' in html
    r = admin.post(f"/admin/users/{target.id}/time-zone", {"time_zone": "Mars/Olympus_Mons"})
    assert r.status_code == 302
    refused = admin.get(f"/admin/users/{target.id}").text
    assert "This is not a time zone we know." in refused
    assert zone_of(app, target) is None
    r = admin.post(f"/admin/users/{target.id}/time-zone", {"time_zone": "Europe/Riga"})
    assert r.status_code == 302
    assert f"Times of {target.email} are now shown in Europe/Riga." in (
        admin.get(f"/admin/users/{target.id}").text
    )
    assert zone_of(app, target) == "Europe/Riga"
    # Only admins: another user's zone is not the business of a finance officer.
    officer = pages(make.user("finance_officer"))
    r = officer.post(f"/admin/users/{target.id}/time-zone", {"time_zone": ""})
    assert r.status_code == 403
    assert zone_of(app, target) == "Europe/Riga"
