"""The authorisation matrix as data: every route × every role (× own / other city) → status.

One row per (endpoint, HTTP method) of the app's URL map, and more rows where one endpoint does
several things (the events of a transition route, the two visibilities of a comment). A row says
what request to send and in which world (``given``), and what each caller gets:

* ``anonymous`` — API: no bearer token (401, except the public routes); pages: a browser with a
  session that holds a CSRF token but nobody signed in (302 to ``/login``).
* ``city_member``, ``mentor`` — for rows about one city's grant, report, payout or receipt the
  columns are split: ``/own`` is a member of that city or a mentor assigned to it, ``/other`` is
  a member or mentor of another city, who gets 404 (domain.md: existence is not revealed).
* ``finance_officer``, ``auditor``, ``admin`` — programme staff, who see every city.

The statuses follow domain.md ("People and what they may do") and api.md (401 → 404 outside
scope → 403 role → 422 → 409). Every body is minimal and valid, and every ``given`` world is one
in which the allowed roles' action succeeds, so an allowed cell shows the success status:
API 200/201/202/204, pages 200 (a page) or 302 (a form that did its work and redirects).

``given`` names the objects built before the request (tests/test_authz_matrix.py builds them):

* ``-``                  nothing but the two cities (own and other), each with a current title
* ``user``               another user (an auditor), for the user routes and sign-in bodies
* ``grant:STATE``        a grant of the own city in STATE
* ``report:STATE``       an interim report (one EUR expense line) of a disbursed grant
* ``payout:authorised``  an advance of an approved grant, authorised by *another* officer
* ``attachment``         a PDF receipt on a draft report
* ``export:finished``    a finished statement with its file
* ``agreement:STATE``    an approved grant of the own city whose agreement is in STATE
* ``account:pending``    a change of the own city's bank account, proposed by another officer

Placeholders in paths and bodies: ``{grant}``, ``{report}``, ``{expense}``, ``{payout}``,
``{attachment}``, ``{export}``, ``{account}`` (a bank account), ``{city}`` (the own city),
``{user}``, ``{user_email}``, ``{today}``, ``{end}`` (a pilot end inside the title), ``{month}``
(this month), ``{year}`` (the title year), ``{later_year}``, ``{later_from}``, ``{later_until}``
(a free later validity).
A body value ``"@receipt.pdf"`` is a PDF file sent as multipart form data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.factories import PASSWORD

ANONYMOUS = "anonymous"
CITY_MEMBER = "city_member"
MENTOR = "mentor"
FINANCE_OFFICER = "finance_officer"
AUDITOR = "auditor"
ADMIN = "admin"
ROLES = (ANONYMOUS, CITY_MEMBER, MENTOR, FINANCE_OFFICER, AUDITOR, ADMIN)

#: The columns of a row that is not about one city's object.
UNSCOPED_COLUMNS = (ANONYMOUS, CITY_MEMBER, MENTOR, FINANCE_OFFICER, AUDITOR, ADMIN)
#: The columns of a row about one city's grant, report, payout or receipt.
SCOPED_COLUMNS = (
    ANONYMOUS,
    f"{CITY_MEMBER}/own",
    f"{CITY_MEMBER}/other",
    f"{MENTOR}/own",
    f"{MENTOR}/other",
    FINANCE_OFFICER,
    AUDITOR,
    ADMIN,
)


def unscoped(
    anonymous: int, member: int, mentor: int, finance: int, auditor: int, admin: int
) -> dict[str, int]:
    """Statuses of a route that is not about one city's object (cities and titles included:
    every user reads them)."""
    values = (anonymous, member, mentor, finance, auditor, admin)
    return dict(zip(UNSCOPED_COLUMNS, values, strict=True))


def scoped(
    anonymous: int,
    member_own: int,
    member_other: int,
    mentor_own: int,
    mentor_other: int,
    finance: int,
    auditor: int,
    admin: int,
) -> dict[str, int]:
    """Statuses of a route about one city's object: own city vs another city."""
    values = (anonymous, member_own, member_other, mentor_own, mentor_other)
    return dict(zip(SCOPED_COLUMNS, (*values, finance, auditor, admin), strict=True))


@dataclass(frozen=True)
class Route:
    """One row: ``method path`` of ``endpoint`` sent with ``body`` in the world ``given``."""

    endpoint: str
    method: str
    path: str
    given: str
    expect: dict[str, int]
    body: Any = None
    variant: str = ""

    @property
    def id(self) -> str:
        variant = f":{self.variant}" if self.variant else ""
        return f"{self.method}:{self.endpoint}{variant}"


# ---------------------------------------------------------------------------------------------
# Bodies (minimal and valid)

SIGN_IN = {"email": "{user_email}", "password": PASSWORD}
EXPENSE = {
    "invoice_number": "INV-1",
    "invoice_date": "{today}",
    "payment_date": "{today}",
    "supplier": "Printer",
    "description": "Posters",
    "category": "communication",
    "currency": "EUR",
    "amount": "100.00",
    "vat_amount": "0.00",
    "vat_recoverable": False,
}
PROPOSAL = {
    "title": "Harbour stories",
    "summary": "Stories of the harbour.",
    "start_date": "{today}",
    "end_date": "{end}",
    "budget_lines": [{"category": "fees", "description": "Fees", "amount": "1500.00"}],
}
REPORT = {
    "kind": "interim",
    "narrative": {"activities": "Workshops in the harbour"},
    "expenses": [EXPENSE],
}
COMMENT = "Reasoned decision, see the minutes."
ACCOUNT = {"holder": "Municipality", "iban": "LV80BANK0000435195001"}

PROPOSAL_FORM = {
    "title": "Harbour stories",
    "summary": "Stories of the harbour.",
    "start_date": "{today}",
    "end_date": "{end}",
    "budget_lines-0-category": "fees",
    "budget_lines-0-description": "Fees",
    "budget_lines-0-amount": "1500.00",
}
REPORT_FORM = {
    "activities": "Workshops in the harbour",
    **{f"expenses-0-{k}": v for k, v in EXPENSE.items() if k != "vat_recoverable"},
}
LATER_TITLE = {"year": "{later_year}", "valid_from": "{later_from}", "valid_until": "{later_until}"}

#: The grant events, the state each may be fired from, and the body that fires it.
GRANT_EVENTS = (
    ("submit", "draft", {}),
    ("withdraw", "submitted", {}),
    ("request_changes", "submitted", {"comment": COMMENT}),
    ("approve", "submitted", {}),
    ("reject", "submitted", {"comment": COMMENT}),
    ("terminate", "approved", {"comment": COMMENT}),
    ("close", "final_reported", {}),
    ("advance_paid", "approved", {}),  # system events: fired by the service, never by a role
    ("interim_accepted", "disbursed", {}),
    ("final_accepted", "interim_reported", {}),
)
#: Who may fire each grant event (domain.md, the state machine's "by" column).
CITY_EVENTS = ("submit", "withdraw")
FINANCE_EVENTS = ("request_changes", "approve", "reject", "terminate", "close")


def _grant_event_expect(event: str, success: int, anonymous: int) -> dict[str, int]:
    if event in CITY_EVENTS:
        return scoped(anonymous, success, 404, 403, 404, 403, 403, 403)
    if event in FINANCE_EVENTS:
        return scoped(anonymous, 403, 404, 403, 404, success, 403, 403)
    return scoped(anonymous, 403, 404, 403, 404, 403, 403, 403)  # system: nobody


API_GRANT_EVENTS = [
    Route(
        "grants.transition_grant",
        "POST",
        "/api/v1/grants/{grant}/transitions",
        f"grant:{state}",
        _grant_event_expect(event, 200, 401),
        {"event": event, **body},
        event,
    )
    for event, state, body in GRANT_EVENTS
]
PAGE_GRANT_EVENTS = [
    Route(
        "grants_pages.fire",
        "POST",
        f"/grants/{{grant}}/events/{event}",
        f"grant:{state}",
        _grant_event_expect(event, 302, 302),
        # The page sends the amount it shows (an empty one is refused there, not the request).
        {**body, "approved_amount": "100.00"} if event == "approve" else body,
        event,
    )
    for event, state, body in GRANT_EVENTS
]

# ---------------------------------------------------------------------------------------------
# The matrix
#
# unscoped(anonymous, city_member, mentor, finance_officer, auditor, admin)
# scoped(anonymous, city_member/own, city_member/other, mentor/own, mentor/other,
#        finance_officer, auditor, admin)

R = Route
S = scoped
U = unscoped

# fmt: off
API: list[Route] = [
    # Public: the sign-in, the health check, the OpenAPI document and its interactive reference.
    R("users.create_token", "POST", "/api/v1/auth/tokens", "user",
      U(201, 201, 201, 201, 201, 201), SIGN_IN),
    R("healthz", "GET", "/healthz", "-", U(200, 200, 200, 200, 200, 200)),
    R("api_healthz", "GET", "/api/v1/healthz", "-", U(200, 200, 200, 200, 200, 200)),
    R("api-docs.openapi_json", "GET", "/api/v1/openapi.json", "-",
      U(200, 200, 200, 200, 200, 200)),
    R("api_docs", "GET", "/api/v1/docs", "-", U(200, 200, 200, 200, 200, 200)),
    R("api_docs_asset", "GET", "/api/v1/docs/assets/swagger-ui.css", "-",
      U(200, 200, 200, 200, 200, 200)),

    # Any signed-in user.
    R("users.revoke_token", "DELETE", "/api/v1/auth/tokens/current", "-",
      U(401, 204, 204, 204, 204, 204)),
    R("users.me", "GET", "/api/v1/users/me", "-", U(401, 200, 200, 200, 200, 200)),

    # Users: admins only.
    R("users.create_user", "POST", "/api/v1/users", "-", U(401, 403, 403, 403, 403, 201),
      {"email": "new.person@test.example", "password": "long enough password",
       "role": "auditor"}),
    R("users.list_users", "GET", "/api/v1/users", "-", U(401, 403, 403, 403, 403, 200)),
    R("users.get_user", "GET", "/api/v1/users/{user}", "user", U(401, 403, 403, 403, 403, 200)),
    R("users.patch_user", "PATCH", "/api/v1/users/{user}", "user",
      U(401, 403, 403, 403, 403, 200), {"is_active": False}),

    # Cities and titles: admins create, everyone reads.
    R("cities.create_city", "POST", "/api/v1/cities", "-", U(401, 403, 403, 403, 403, 201),
      {"name": "Rūjiena", "country": "LV"}),
    R("cities.list_cities", "GET", "/api/v1/cities", "-", U(401, 200, 200, 200, 200, 200)),
    R("cities.get_city", "GET", "/api/v1/cities/{city}", "-", U(401, 200, 200, 200, 200, 200)),
    R("cities.create_title", "POST", "/api/v1/cities/{city}/titles", "-",
      U(401, 403, 403, 403, 403, 201), LATER_TITLE),

    # Exchange rates: admins and finance set them, everyone reads.
    R("exchange-rates.put_rate", "PUT", "/api/v1/exchange-rates/{month}/DKK", "-",
      U(401, 403, 403, 200, 403, 200), {"rate": "7.4604"}),
    R("exchange-rates.list_rates", "GET", "/api/v1/exchange-rates", "-",
      U(401, 200, 200, 200, 200, 200)),

    # The programme budget of a title year: admins set it, programme staff read it.
    R("title-years.put_budget", "PUT", "/api/v1/title-years/{year}/budget", "-",
      U(401, 403, 403, 403, 403, 200), {"budget": "60000.00"}),
    R("title-years.get_title_year", "GET", "/api/v1/title-years/{year}", "-",
      U(401, 403, 403, 200, 200, 200)),

    # Grants: the city proposes and edits; everyone in scope reads (drafts included).
    R("grants.create_grant", "POST", "/api/v1/grants", "-", U(401, 201, 403, 403, 403, 403),
      PROPOSAL),
    R("grants.list_grants", "GET", "/api/v1/grants", "-", U(401, 200, 200, 200, 200, 200)),
    R("grants.get_grant", "GET", "/api/v1/grants/{grant}", "grant:draft",
      S(401, 200, 404, 200, 404, 200, 200, 200)),
    R("grants.patch_grant", "PATCH", "/api/v1/grants/{grant}", "grant:draft",
      S(401, 200, 404, 403, 404, 403, 403, 403), {"title": "Harbour stories, again"}),
    *API_GRANT_EVENTS,
    R("grants.grant_history", "GET", "/api/v1/grants/{grant}/history", "grant:draft",
      S(401, 200, 404, 200, 404, 200, 200, 200)),

    # Comments: the city (shared only), mentors, finance and admins write; auditors read.
    R("comments.add_comment", "POST", "/api/v1/grants/{grant}/comments", "grant:submitted",
      S(401, 201, 404, 201, 404, 201, 403, 201), {"body": "Hello", "visibility": "shared"},
      "shared"),
    R("comments.add_comment", "POST", "/api/v1/grants/{grant}/comments", "grant:submitted",
      S(401, 403, 404, 201, 404, 201, 403, 201), {"body": "Between us", "visibility": "internal"},
      "internal"),
    R("comments.list_comments", "GET", "/api/v1/grants/{grant}/comments", "grant:draft",
      S(401, 200, 404, 200, 404, 200, 200, 200)),

    # Bank accounts: the city's members, finance and admins propose, finance verifies (four
    # eyes), auditors read; mentors see none; another city's member gets 404.
    R("bank_accounts.list_accounts", "GET", "/api/v1/cities/{city}/bank-accounts", "-",
      S(401, 200, 404, 403, 403, 200, 200, 200)),
    R("bank_accounts.propose", "POST", "/api/v1/cities/{city}/bank-accounts", "-",
      S(401, 201, 404, 403, 403, 201, 403, 201), ACCOUNT),
    R("bank_accounts.transition", "POST", "/api/v1/bank-accounts/{account}/transitions",
      "account:pending", S(401, 403, 404, 403, 403, 200, 403, 403), {"event": "verify"},
      "verify"),
    R("bank_accounts.transition", "POST", "/api/v1/bank-accounts/{account}/transitions",
      "account:pending", S(401, 403, 404, 403, 403, 200, 403, 403),
      {"event": "reject", "comment": COMMENT}, "reject"),

    # The grant agreement: everyone in scope reads it; the city signs, finance or an admin
    # countersigns.
    R("agreements.get_agreement", "GET", "/api/v1/grants/{grant}/agreement", "grant:approved",
      S(401, 200, 404, 200, 404, 200, 200, 200)),
    R("agreements.download_agreement", "GET", "/api/v1/grants/{grant}/agreement/file",
      "grant:approved", S(401, 200, 404, 200, 404, 200, 200, 200)),
    R("agreements.fire_agreement_event", "POST", "/api/v1/grants/{grant}/agreement/transitions",
      "agreement:awaiting_city", S(401, 200, 404, 403, 404, 403, 403, 403),
      {"event": "sign", "signatory_name": "Anna Nowak"}, "sign"),
    R("agreements.fire_agreement_event", "POST", "/api/v1/grants/{grant}/agreement/transitions",
      "agreement:awaiting_countersignature", S(401, 403, 404, 403, 404, 200, 403, 200),
      {"event": "countersign"}, "countersign"),

    # Payouts: finance authorises, another officer confirms; everyone in scope reads.
    R("disbursements.authorise", "POST", "/api/v1/grants/{grant}/disbursements",
      "grant:approved", S(401, 403, 404, 403, 404, 201, 403, 403), {"kind": "advance"}),
    R("disbursements.list_payouts", "GET", "/api/v1/grants/{grant}/disbursements",
      "payout:authorised", S(401, 200, 404, 200, 404, 200, 200, 200)),
    R("disbursements.get_payout", "GET", "/api/v1/disbursements/{payout}", "payout:authorised",
      S(401, 200, 404, 200, 404, 200, 200, 200)),
    R("disbursements.transition", "POST", "/api/v1/disbursements/{payout}/transitions",
      "payout:authorised", S(401, 403, 404, 403, 404, 200, 403, 403),
      {"event": "confirm_paid", "paid_on": "{today}", "payment_reference": "BANK-1"},
      "confirm_paid"),
    R("disbursements.transition", "POST", "/api/v1/disbursements/{payout}/transitions",
      "payout:authorised", S(401, 403, 404, 403, 404, 200, 403, 403),
      {"event": "cancel", "comment": COMMENT}, "cancel"),

    # Reports and receipts: the city files, edits, submits, uploads; finance returns, accepts.
    R("reports.create_report", "POST", "/api/v1/grants/{grant}/reports", "grant:disbursed",
      S(401, 201, 404, 403, 404, 403, 403, 403), REPORT),
    R("reports.list_reports", "GET", "/api/v1/grants/{grant}/reports", "report:draft",
      S(401, 200, 404, 200, 404, 200, 200, 200)),
    R("reports.get_report", "GET", "/api/v1/reports/{report}", "report:draft",
      S(401, 200, 404, 200, 404, 200, 200, 200)),
    R("reports.patch_report", "PATCH", "/api/v1/reports/{report}", "report:draft",
      S(401, 200, 404, 403, 404, 403, 403, 403), {"narrative": {"activities": "Concerts"}}),
    R("reports.transition_report", "POST", "/api/v1/reports/{report}/transitions",
      "report:draft", S(401, 200, 404, 403, 404, 403, 403, 403), {"event": "submit"}, "submit"),
    R("reports.transition_report", "POST", "/api/v1/reports/{report}/transitions",
      "report:submitted", S(401, 403, 404, 403, 404, 200, 403, 403),
      {"event": "return", "comment": COMMENT}, "return"),
    R("reports.transition_report", "POST", "/api/v1/reports/{report}/transitions",
      "report:submitted", S(401, 403, 404, 403, 404, 200, 403, 403), {"event": "accept"},
      "accept"),
    R("reports.upload", "POST", "/api/v1/reports/{report}/attachments", "report:draft",
      S(401, 201, 404, 403, 404, 403, 403, 403), {"file": "@receipt.pdf"}),
    R("reports.download", "GET", "/api/v1/attachments/{attachment}", "attachment",
      S(401, 200, 404, 200, 404, 200, 200, 200)),

    # Statements: auditors, finance and admins.
    R("exports.request_export", "POST", "/api/v1/exports", "-",
      U(401, 403, 403, 202, 202, 202), {"kind": "programme_statement", "title_year": "{year}"}),
    R("exports.list_exports", "GET", "/api/v1/exports", "export:finished",
      U(401, 403, 403, 200, 200, 200)),
    R("exports.get_export", "GET", "/api/v1/exports/{export}", "export:finished",
      U(401, 403, 403, 200, 200, 200)),
    R("exports.download", "GET", "/api/v1/exports/{export}/file", "export:finished",
      U(401, 403, 403, 200, 200, 200)),
]

PAGES: list[Route] = [
    # Signing in and out; static files.
    R("static", "GET", "/static/docs/init.js", "-", U(200, 200, 200, 200, 200, 200)),
    R("pages.home", "GET", "/", "-", U(302, 302, 302, 302, 302, 302)),
    R("users_pages.login", "GET", "/login", "-", U(200, 302, 302, 302, 302, 302)),
    R("users_pages.login", "POST", "/login", "user", U(302, 302, 302, 302, 302, 302), SIGN_IN),
    R("users_pages.logout", "POST", "/logout", "-", U(302, 302, 302, 302, 302, 302)),
    R("pages.dashboard", "GET", "/dashboard", "-", U(302, 200, 200, 200, 200, 200)),
    # One's own settings: anyone signed in.
    R("users_pages.settings", "GET", "/settings", "-", U(302, 200, 200, 200, 200, 200)),
    R("users_pages.settings", "POST", "/settings", "-", U(302, 302, 302, 302, 302, 302),
      {"time_zone": "Europe/Riga"}),

    # Administration: admins only.
    R("users_pages.users", "GET", "/admin/users", "-", U(302, 403, 403, 403, 403, 200)),
    R("users_pages.users", "POST", "/admin/users", "-", U(302, 403, 403, 403, 403, 302),
      {"email": "new.person@test.example", "password": "long enough password",
       "role": "auditor"}),
    R("users_pages.user_detail", "GET", "/admin/users/{user}", "user",
      U(302, 403, 403, 403, 403, 200)),
    R("users_pages.user_detail", "POST", "/admin/users/{user}", "user",
      U(302, 403, 403, 403, 403, 302), {"is_active": "y"}),
    R("users_pages.user_time_zone", "POST", "/admin/users/{user}/time-zone", "user",
      U(302, 403, 403, 403, 403, 302), {"time_zone": "Europe/Riga"}),
    R("cities_pages.cities", "GET", "/admin/cities", "-", U(302, 403, 403, 403, 403, 200)),
    R("cities_pages.cities", "POST", "/admin/cities", "-", U(302, 403, 403, 403, 403, 302),
      {"name": "Rūjiena", "country": "LV"}),
    R("cities_pages.city", "GET", "/admin/cities/{city}", "-", U(302, 403, 403, 403, 403, 200)),
    R("cities_pages.city", "POST", "/admin/cities/{city}", "-", U(302, 403, 403, 403, 403, 302),
      LATER_TITLE),

    # Exchange rates: everyone reads, admins and finance set.
    R("rates_pages.rates", "GET", "/rates", "-", U(302, 200, 200, 200, 200, 200)),
    R("rates_pages.rates", "POST", "/rates", "-", U(302, 403, 403, 302, 403, 302),
      {"month": "{month}", "currency": "DKK", "rate": "7.4604"}),

    # The programme budget: programme staff read, admins set.
    R("budget_pages.years", "GET", "/title-years", "-", U(302, 403, 403, 200, 200, 200)),
    R("budget_pages.year", "GET", "/title-years/{year}", "-", U(302, 403, 403, 200, 200, 200)),
    R("budget_pages.year", "POST", "/title-years/{year}", "-", U(302, 403, 403, 403, 403, 302),
      {"budget": "60000.00"}),

    # Bank accounts: the city's page (masked), finance's queue and verification screen.
    R("banking_pages.city_account", "GET", "/cities/{city}/bank-account", "-",
      S(302, 200, 404, 403, 403, 200, 200, 200)),
    R("banking_pages.city_account", "POST", "/cities/{city}/bank-account", "-",
      S(302, 302, 404, 403, 403, 302, 403, 302), ACCOUNT),
    R("banking_pages.to_verify", "GET", "/bank-accounts", "-", U(302, 403, 403, 200, 200, 200)),
    R("banking_pages.verification", "GET", "/bank-accounts/{account}", "account:pending",
      S(302, 403, 403, 403, 403, 200, 200, 200)),
    R("banking_pages.decide", "POST", "/bank-accounts/{account}/verify", "account:pending",
      S(302, 403, 403, 403, 403, 302, 403, 403), None, "verify"),
    R("banking_pages.decide", "POST", "/bank-accounts/{account}/reject", "account:pending",
      S(302, 403, 403, 403, 403, 302, 403, 403), {"comment": COMMENT}, "reject"),

    # Grants.
    R("grants_pages.grant_list", "GET", "/grants", "-", U(302, 200, 200, 200, 200, 200)),
    R("grants_pages.new_grant", "GET", "/grants/new", "-", U(302, 200, 403, 403, 403, 403)),
    R("grants_pages.new_grant", "POST", "/grants/new", "-", U(302, 302, 403, 403, 403, 403),
      PROPOSAL_FORM),
    R("pages.grant", "GET", "/grants/{grant}", "grant:draft",
      S(302, 200, 404, 200, 404, 200, 200, 200)),
    R("grants_pages.edit_grant", "GET", "/grants/{grant}/edit", "grant:draft",
      S(302, 200, 404, 403, 404, 403, 403, 403)),
    R("grants_pages.edit_grant", "POST", "/grants/{grant}/edit", "grant:draft",
      S(302, 302, 404, 403, 404, 403, 403, 403), PROPOSAL_FORM),
    *PAGE_GRANT_EVENTS,
    R("comments_pages.add_comment", "POST", "/grants/{grant}/comments", "grant:submitted",
      S(302, 302, 404, 302, 404, 302, 403, 302), {"body": "Hello", "visibility": "shared"},
      "shared"),
    R("comments_pages.add_comment", "POST", "/grants/{grant}/comments", "grant:submitted",
      S(302, 403, 404, 302, 404, 302, 403, 302), {"body": "Between us", "visibility": "internal"},
      "internal"),

    # The grant agreement.
    R("agreements_pages.download", "GET", "/grants/{grant}/agreement.pdf", "grant:approved",
      S(302, 200, 404, 200, 404, 200, 200, 200)),
    R("agreements_pages.transition", "POST", "/grants/{grant}/agreement/sign",
      "agreement:awaiting_city", S(302, 302, 404, 403, 404, 403, 403, 403),
      {"signatory_name": "Anna Nowak"}, "sign"),
    R("agreements_pages.transition", "POST", "/grants/{grant}/agreement/countersign",
      "agreement:awaiting_countersignature", S(302, 403, 404, 403, 404, 302, 403, 302), {},
      "countersign"),

    # Payouts.
    R("payouts_pages.authorise", "POST", "/grants/{grant}/payouts", "grant:approved",
      S(302, 403, 404, 403, 404, 302, 403, 403), {"kind": "advance"}),
    R("payouts_pages.transition", "POST", "/payouts/{payout}/confirm_paid", "payout:authorised",
      S(302, 403, 404, 403, 404, 302, 403, 403),
      {"paid_on": "{today}", "payment_reference": "BANK-1"}, "confirm_paid"),
    R("payouts_pages.transition", "POST", "/payouts/{payout}/cancel", "payout:authorised",
      S(302, 403, 404, 403, 404, 302, 403, 403), {"comment": COMMENT}, "cancel"),

    # Reports and receipts.
    R("reports_pages.new_report", "GET", "/grants/{grant}/reports/new?kind=interim",
      "grant:disbursed", S(302, 200, 404, 403, 404, 403, 403, 403)),
    R("reports_pages.new_report", "POST", "/grants/{grant}/reports/new?kind=interim",
      "grant:disbursed", S(302, 302, 404, 403, 404, 403, 403, 403), REPORT_FORM),
    R("reports_pages.report", "GET", "/reports/{report}", "report:draft",
      S(302, 200, 404, 200, 404, 200, 200, 200)),
    R("reports_pages.edit_report", "GET", "/reports/{report}/edit", "report:draft",
      S(302, 200, 404, 403, 404, 403, 403, 403)),
    R("reports_pages.edit_report", "POST", "/reports/{report}/edit", "report:draft",
      S(302, 302, 404, 403, 404, 403, 403, 403), REPORT_FORM),
    R("reports_pages.fire", "POST", "/reports/{report}/events/submit", "report:draft",
      S(302, 302, 404, 403, 404, 403, 403, 403), {}, "submit"),
    R("reports_pages.fire", "POST", "/reports/{report}/events/return", "report:submitted",
      S(302, 403, 404, 403, 404, 302, 403, 403), {"comment": COMMENT}, "return"),
    R("reports_pages.fire", "POST", "/reports/{report}/events/accept", "report:submitted",
      S(302, 403, 404, 403, 404, 302, 403, 403), {}, "accept"),
    R("reports_pages.upload", "POST", "/reports/{report}/receipts", "report:draft",
      S(302, 302, 404, 403, 404, 403, 403, 403), {"file": "@receipt.pdf"}),
    R("reports_pages.line_warnings", "POST", "/grants/{grant}/reports/line-warnings",
      "grant:disbursed", S(302, 200, 404, 403, 404, 403, 403, 403), REPORT_FORM),
    R("reports_pages.receipt", "GET", "/receipts/{attachment}", "attachment",
      S(302, 200, 404, 200, 404, 200, 200, 200)),

    # Statements: auditors, finance and admins.
    R("statements_pages.statements", "GET", "/statements", "-",
      U(302, 403, 403, 200, 200, 200)),
    R("statements_pages.statements", "POST", "/statements", "-",
      U(302, 403, 403, 302, 302, 302), {"kind": "programme_statement", "title_year": "{year}"}),
    R("statements_pages.status", "GET", "/statements/{export}/status", "export:finished",
      U(302, 403, 403, 200, 200, 200)),
    R("statements_pages.download", "GET", "/statements/{export}/file", "export:finished",
      U(302, 403, 403, 200, 200, 200)),
]
# fmt: on

MATRIX: list[Route] = [*API, *PAGES]
