"""What every HTML page shares: the signed-in user of the session, CSRF, forms, errors, filters.

The pages sign in with Flask's signed session cookie (it holds the user id and a random CSRF
token); the JSON API under ``/api/v1`` accepts only bearer tokens and is exempt from CSRF.
Views parse forms with the API's schemas and call the same services; this module only turns
forms into dicts, errors into words and cents into money.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from jinja2 import pass_context
from markupsafe import Markup
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from grants import transaction
from grants.errors import REASON_LABELS, AppError, Forbidden, Unauthorized
from grants.extensions import db
from grants.money import format_money, shown_money
from grants.rates.models import format_rate
from grants.users.credentials import open_page_session, revoke_page_session, token_digest
from grants.users.models import PageSession, User
from grants.users.settings import time_zone
from workflows import TransitionNotAllowed, WorkflowError
from workflows.labels import event_label, role_label, state_label

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


# ---------------------------------------------------------------------------------------------
# The session cookie


class PageSessionInterface(SecureCookieSessionInterface):
    """The signed cookie session, marked Secure when the request came over HTTPS.

    ``SESSION_COOKIE_SECURE`` forces it (behind a proxy that ends TLS, when the WSGI server
    does not see the scheme).
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        forced = bool(app.config.get("SESSION_COOKIE_SECURE"))
        return forced or (has_request_context() and request.is_secure)


def is_api_path(path: str) -> bool:
    """The JSON side: the API under ``/api/v1`` and the health check."""
    return path.startswith("/api/") or path in ("/api", "/healthz")


def csrf_token() -> str:
    """The session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Refuse any page request that changes something without the session's token (400)."""
    if request.method in SAFE_METHODS or is_api_path(request.path):
        return
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    if not expected or not hmac.compare_digest(str(expected), str(sent)):
        abort(
            400,
            description="The form's security token is missing or out of date. "
            "Go back, reload the page and send the form again.",
        )


#: The cookie session's keys: the user's id and the random id of the server-side page session.
SESSION_USER, SESSION_ID = "uid", "sid"
_PAGE_USER = "pearl.page_user"


def sign_in(user: User) -> None:
    """A fresh session for ``user`` (a new CSRF token too: no fixation).

    A new server-side session row is written (the cookie holds its random id, the database
    only its hash; the page's boundary commits it); a session the browser held before ends
    for good.
    """
    old = session.get(SESSION_ID)
    if isinstance(old, str) and old:
        revoke_page_session(old)
    raw = open_page_session(user)
    session.clear()
    session[SESSION_USER] = user.id
    session[SESSION_ID] = raw
    session["csrf"] = secrets.token_urlsafe(32)
    request.environ.pop(_PAGE_USER, None)


def sign_out() -> None:
    """End this browser's session for good: its row is revoked, the cookie cleared.

    A copy of the cookie replayed later finds a revoked row and is signed out.
    """
    raw = session.get(SESSION_ID)
    if isinstance(raw, str) and raw:
        revoke_page_session(raw)
    session.clear()
    request.environ.pop(_PAGE_USER, None)


def signed_in_user() -> User | None:
    """The active user of the session cookie, looked up once per request.

    One query joins the session row and its user: a revoked session, an inactive user or a
    cookie whose user id does not match its session signs nobody in (and is dropped).
    """
    raw = session.get(SESSION_ID)
    cached = request.environ.get(_PAGE_USER)
    if cached is not None and cached[0] == raw:
        return cached[1]
    user = None
    if isinstance(raw, str) and raw:
        row = db.session.execute(
            select(PageSession, User)
            .join(User, PageSession.user_id == User.id)
            .where(
                PageSession.token_hash == token_digest(raw),
                PageSession.revoked_at.is_(None),
                User.is_active.is_(True),
            )
        ).first()
        if row is not None and row[1].id == session.get(SESSION_USER):
            user = row[1]
            g.page_session = row[0]
    if user is None and (SESSION_ID in session or SESSION_USER in session):
        session.pop(SESSION_ID, None)  # a stale cookie: forget it, keep the CSRF token
        session.pop(SESSION_USER, None)
        raw = None
    request.environ[_PAGE_USER] = (raw, user)
    if user is not None:
        g.user = user  # helpers that read g.user see the same person
    return user


def page(
    roles: Iterable[str] | None = None, *, public: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page for signed-in users (others go to the sign-in page); ``roles`` may see it.

    A ``public`` page (signing in and out) is open to visitors. Either way the page owns its
    request's transaction, as the API's ``endpoint`` does: see :func:`_in_transaction`.
    """
    allowed = tuple(roles) if roles is not None else None

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not public:
                user = signed_in_user()
                if user is None:
                    target = request.full_path.rstrip("?") if request.method == "GET" else None
                    return redirect(url_for("users_pages.login", next=target))
                if allowed is not None and user.role not in allowed:
                    raise Forbidden("Your role may not open this page.")
            return _in_transaction(view, args, kwargs)

        return wrapper

    return decorator


def _in_transaction(view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run a page's view and end its transaction once, at the boundary.

    A page that answers 2xx or 3xx is committed (then what waited for the commit runs: the
    success message, a queued job); an error, a 4xx answer (a form sent back with its errors,
    a refusal) or a HEAD is rolled back, so nothing is half-written. A page shown again inside
    another page's request (a refused form, :func:`show_again`) leaves the transaction to that
    request's boundary.
    """
    if g.get("showing_again"):
        return view(*args, **kwargs)
    try:
        response = current_app.make_response(view(*args, **kwargs))
    except BaseException:
        transaction.rollback()
        raise
    if request.method == "HEAD" or response.status_code >= 400:
        transaction.rollback()
    else:
        transaction.commit()
    return response


def done(message: str) -> None:
    """Show ``message`` as a success on the next page, once the change is committed."""
    transaction.after_commit(lambda: flash(message, "success"))


def me() -> User:
    user = signed_in_user()
    if user is None:  # @page signs the visitor in first; this is the second line
        raise Unauthorized()
    return user


def require_role(*roles: str) -> None:
    """403 unless the signed-in user has one of ``roles`` (checked after the 404 of scope)."""
    if me().role not in roles:
        raise Forbidden("Your role may not do this.")


#: At most this long a ``next`` target; longer ones are not followed.
_MAX_NEXT = 2000


def _hostile_chars(value: str) -> bool:
    """Whitespace, backslashes and control or format characters (browsers drop some of them
    and read a backslash as ``/``: a tab between two slashes would make ``//evil.example``)."""
    return any(
        ch == "\\" or ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")
        for ch in value
    )


def _same_site_path(value: str, *, decoded: bool = False) -> bool:
    """A path of this site: one leading ``/``, no scheme or host, no dot segment, nothing a
    browser would read otherwise. A decoded form is checked up to its query (where a decoded
    ``%20`` is only a space)."""
    path = re.split(r"[?#]", value, maxsplit=1)[0] if decoded else value
    if not path.startswith("/") or path.startswith("//") or _hostile_chars(path):
        return False
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return False
    return not any(segment in (".", "..") for segment in parts.path.split("/"))


def safe_next(target: str | None) -> str:
    """Only a path on this site (never another host) to go to after signing in.

    The target is checked as it came (no whitespace, backslash or control character
    anywhere) and again after percent-decoding, until decoding no longer changes it, so that
    ``/%2F%2Fevil.example`` or ``/%5Cevil.example`` is refused too. Anything else goes to the
    dashboard.
    """
    fallback = url_for("pages.dashboard")
    if not isinstance(target, str) or not target or len(target) > _MAX_NEXT:
        return fallback
    if not _same_site_path(target):
        return fallback
    decoded = target
    for _ in range(5):
        once = unquote(decoded, errors="replace")
        if once == decoded:
            return target
        decoded = once
        if not _same_site_path(decoded, decoded=True):
            return fallback
    return fallback  # still changing after five decodings: not a plain path


# ---------------------------------------------------------------------------------------------
# Forms


REFUSALS = (409, 413, 415, 422, 429)


def refusal_message(exc: BaseException) -> str | None:
    """The words of a refusal to show beside a form, or None for errors that need a page."""
    if isinstance(exc, TransitionNotAllowed):
        # In words, without the state first (“Approved: …” read as if it had just happened).
        return f"This cannot be done now: it is {state_label(exc.state).lower()}."
    if isinstance(exc, AppError) and exc.code in REFUSALS:
        message = humane(exc.message)
        if exc.code == 422 and exc.errors and message == "The request is not valid: see errors.":
            message = "Please correct the fields marked below."
        return message
    return None


@dataclass(frozen=True)
class KeptForm:
    """A form that came back refused, as it was sent: every value typed (by the form's field
    names), the errors beside each field, and the refusal in words. ``NOT_KEPT`` (false) stands
    for a form that was not the one sent: its fields show the page's defaults.
    """

    action: str = ""
    values: Mapping[str, list[str]] = dc_field(default_factory=dict)
    errors: Mapping[str, list[str]] = dc_field(default_factory=dict)
    message: str | None = None

    def __bool__(self) -> bool:
        return bool(self.action)

    def value(self, name: str, default: Any = "") -> Any:
        """What was typed in ``name``; ``default`` (the page's own value) if it was not sent."""
        if not self or name not in self.values:
            return default
        sent = self.values[name]
        return sent[0] if sent else ""

    def chosen(self, name: str, default: Iterable[Any] = ()) -> list[str]:
        """The values sent for a field of several (check boxes), as strings."""
        if not self:
            return [str(v) for v in default]
        return list(self.values.get(name, []))

    def others(self, *names: str) -> list[str]:
        """The messages about fields the form does not show: said beside the form itself."""
        return [m for key, messages in self.errors.items() if key not in names for m in messages]


NOT_KEPT = KeptForm()


def kept(action: str, **match: Any) -> KeptForm:
    """The refused form this request sent back, if it is the one posted to ``action`` (and its
    fields ``match``, such as the kind of a payout); else ``NOT_KEPT``."""
    form = g.get("kept_form") if has_request_context() else None
    if not isinstance(form, KeptForm) or form.action != urlsplit(action).path:
        return NOT_KEPT
    if any(form.value(name, None) != str(value) for name, value in match.items()):
        return NOT_KEPT
    return form


def act(
    action: Callable[[], Any],
    *,
    success: str,
    back: str,
    keep: bool = False,
    about: Mapping[type[AppError], str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Response:
    """Run a service call and go ``back`` with a message (POST → redirect → GET).

    The page's boundary commits it. Refusals (409 and kin, and fields that do not pass the
    schema) are undone and said in words; other errors (403, 404, 500) make an error page.
    With ``keep`` a refusal answers at once (422, 409…) with the page ``back`` leads to,
    the form as it was typed and every error beside its field (:func:`kept`); without it, it
    goes back with the message. ``about`` names the field a kind of refusal is about
    (``CapExceeded`` → the approved amount): its words go beside that field. ``labels``
    name the fields where a message names them (a page that does not mark its fields).
    """
    try:
        action()
        db.session.flush()  # a constraint fails here, before the success message is promised
    except ValidationError as exc:
        transaction.rollback()
        lead = "Please correct the fields marked below." if keep else "Please correct this:"
        return _refused(flat_errors(exc.messages), lead, 422, back, keep=keep, labels=labels)
    except (AppError, WorkflowError) as exc:
        transaction.rollback()
        message = refusal_message(exc)
        if message is None:
            raise
        errors = flat_errors(getattr(exc, "errors", None) or {})
        field_name = next((f for kind, f in (about or {}).items() if isinstance(exc, kind)), None)
        if field_name and keep:
            errors.setdefault(field_name, []).append(message)
            message = "Not done: see the field marked below."
        code = exc.code if isinstance(exc, AppError) else 409
        return _refused(errors, message, code, back, keep=keep, labels=labels)
    done(success)
    return redirect(back)


def _refused(
    errors: dict[str, list[str]],
    message: str,
    status: int,
    back: str,
    *,
    keep: bool,
    labels: Mapping[str, str] | None = None,
) -> Response:
    if not keep:
        flash(_in_words(errors, message, labels), "error")
        return redirect(back)
    flash(_above(errors, message), "error")
    sent = {k: [v.strip() for v in vs] for k, vs in request.form.lists() if k != CSRF_FIELD}
    g.kept_form = KeptForm(action=request.path, values=sent, errors=errors, message=message)
    return show_again(back, status)


def show_again(back: str, status: int) -> Response:
    """The page ``back`` leads to, rendered in this request (its forms read :func:`kept`) and
    answered with ``status``: a refused form comes back with what was typed, not blank.

    The page's view runs inside this request's transaction (already undone); the boundary of
    the page that was posted to ends it.
    """
    try:
        adapter = current_app.url_map.bind_to_environ(request.environ)
        endpoint, args = adapter.match(urlsplit(back).path, method="GET")
    except HTTPException:
        return redirect(back)
    g.showing_again = True
    try:
        response = current_app.make_response(current_app.view_functions[endpoint](**args))
    finally:
        g.showing_again = False
    if response.status_code == 200:
        response.status_code = status
    return response


#: Words for the internal names a message may hold (``start_date``): a page never shows those.
FIELD_WORDS = {
    "start_date": "the start date",
    "end_date": "the end date",
    "valid_from": "the first day of the title",
    "valid_until": "the last day of the title",
    "city_id": "city",
    "mentor_city_ids": "cities to follow",
    "approved_amount": "the approved amount",
    "amount_eur": "the amount in EUR",
    "vat_amount": "the VAT",
    "invoice_date": "the invoice date",
    "payment_date": "the payment date",
    "paid_on": "the payment date",
    "payment_reference": "the bank reference",
    "budget_lines": "budget lines",
}
#: A snake_case name standing alone (not part of an email address or a file name).
_INTERNAL_NAME = re.compile(r"(?<![\w@.])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@]|\.\w)")
#: The endings of the API's field names (text a person typed is left as it is).
_FIELD_ENDINGS = ("_id", "_ids", "_date", "_on", "_at", "_by", "_amount", "_eur", "_cents")


def humane(message: str) -> str:
    """``message`` for a page: every internal field name in it said in words."""
    if message.startswith("Must be one of:"):
        return "Please choose one of the list."

    def said(match: re.Match[str]) -> str:
        name = match.group(0)
        if name in FIELD_WORDS:
            return FIELD_WORDS[name]
        return words(name) if name.endswith(_FIELD_ENDINGS) else name

    return _INTERNAL_NAME.sub(said, message)


def field_label(key: str, labels: Mapping[str, str] | None = None) -> str:
    """A form field named in a message: ``budget_lines-1-amount`` → ``Amount, line 2``."""
    parts = key.split("-")
    name = parts[-1]
    label = (labels or {}).get(name) or humane(name).capitalize()
    if len(parts) >= 3 and parts[-2].isdigit():
        label = f"{label}, line {int(parts[-2]) + 1}"
    return label


def _in_words(
    errors: Mapping[str, list[str]], lead: str, labels: Mapping[str, str] | None = None
) -> str:
    """A refusal and its errors in one message (for a page that does not mark its fields)."""
    parts = [lead]
    for name, messages in errors.items():
        text = " ".join(messages)
        parts.append(text if name == "_schema" else f"{field_label(name, labels)}: {text}")
    return " ".join(parts)


def _above(errors: Mapping[str, list[str]], lead: str) -> str:
    """The message at the top of a page whose form marks its fields: the refusal, how many
    fields need correcting, and what belongs to no field."""
    fields = [name for name in errors if name != "_schema"]
    parts = [lead]
    if len(fields) > 1:
        parts.append(f"{len(fields)} fields need correcting.")
    parts.extend(errors.get("_schema", []))
    return " ".join(parts)


def run_form(action: Callable[[], Any]) -> tuple[Any, dict[str, list[str]], int]:
    """Parse and act for a form page: ``(result, field errors, status)``; 200 means done.

    The action loads the form's dict with the API's schema and calls the service; the page's
    boundary commits it (a view announces success with :func:`done`). Field errors (422) go
    next to the fields, all of them at once (the message above the form counts them); a
    refusal (409 and kin) becomes a message above the form; both are undone; anything else
    makes an error page.
    """
    try:
        result = action()
        db.session.flush()
    except ValidationError as exc:
        transaction.rollback()
        errors = flat_errors(exc.messages)
        flash(_above(errors, "Please correct the fields marked below."), "error")
        return None, errors, 422
    except (AppError, WorkflowError) as exc:
        transaction.rollback()
        message = refusal_message(exc)
        if message is None:
            raise
        errors = flat_errors(getattr(exc, "errors", None) or {})
        flash(_above(errors, message), "error")
        code = exc.code if isinstance(exc, AppError) else 409
        return None, errors, code
    return result, {}, 200


def load_form(
    schema: Any, data: Mapping[str, Any], missing: Mapping[str, str] | None = None
) -> Any:
    """``schema.load(data)`` for a page, with ``missing``: the fields left blank that the page
    needs although the API would not (an edit's title, the approved amount), each with its
    message; all of them refused in one round with the schema's own errors.
    """
    blank = {name: [message] for name, message in (missing or {}).items()}
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        raise ValidationError({**exc.messages, **blank}) from exc
    if blank:
        raise ValidationError(blank)
    return loaded


_REQUIRED = ("Missing data for required field.", "Field may not be null.")


def flat_errors(messages: Mapping[Any, Any], prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"budget_lines-0-amount": [...]}`` for the fields,
    in words (no internal name: :func:`humane`).

    An API error's location level (``json``, ``form``, ``files``, ``query``) is dropped.
    """
    out: dict[str, list[str]] = {}
    if not prefix and set(messages) <= {"json", "form", "files", "query"} and messages:
        merged: dict[Any, Any] = {}
        for value in messages.values():
            if isinstance(value, Mapping):
                merged.update(value)
        messages = merged
    for key, value in messages.items():
        name = f"{prefix}-{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flat_errors(value, name))
        else:
            items = value if isinstance(value, list | tuple) else [value]
            out[name] = [
                "Please fill this in." if m in _REQUIRED else humane(str(m)) for m in items
            ]
    return out


def indexed_rows(
    form: Mapping[str, str], prefix: str, fields: Iterable[str]
) -> dict[int, dict[str, str]]:
    """Repeated rows ``prefix-N-field`` of a form by their index N (blank ones included)."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)-(\w+)$")
    names = tuple(fields)
    rows: dict[int, dict[str, str]] = {}
    for key in form:
        match = pattern.match(key)
        if match and match.group(2) in names and len(match.group(1)) < 6:
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = form.get(key, "").strip()
    return dict(sorted(rows.items()))


def line_rows(form: Mapping[str, str], prefix: str, fields: Iterable[str]) -> list[dict[str, str]]:
    """The rows of a form in order, without the wholly blank ones."""
    return [row for row in indexed_rows(form, prefix, fields).values() if any(row.values())]


def as_int(value: str | None) -> Any:
    """A form's id as a number for the (strict) id fields; anything else as it came."""
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else (value or None)


def drop_blank(data: dict[str, Any], optional_none: Iterable[str] = ()) -> dict[str, Any]:
    """Blank fields left out (the schema says "required"); blank optional ones become None."""
    out: dict[str, Any] = {}
    nullable = set(optional_none)
    for key, value in data.items():
        if isinstance(value, str) and value == "":
            if key in nullable:
                out[key] = None
            continue
        out[key] = value
    return out


# ---------------------------------------------------------------------------------------------
# Showing things


def money(cents: int | None, currency: str = "EUR") -> str:
    """``123450`` → ``"1,234.50 EUR"`` (a narrow no-break space keeps the unit with it)."""
    return "—" if cents is None else shown_money(cents, currency)


def when(value: dt.datetime | dt.date | None) -> str:
    """A moment as a ``<time>`` in the user's time zone, with UTC on hover; a date as it is.

    A user with a time zone set reads the time in that zone, with the zone's name; without
    one the page says UTC and app.js rewrites the text in the browser's zone
    (``data-local-time``). Dates (a pilot's, a due date) are never shifted.
    """
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return time_element(value, page_time_zone())
    return value.isoformat()


def time_element(value: dt.datetime, zone: ZoneInfo | None) -> Markup:
    """``<time datetime="…Z" title="… UTC">`` with the time in ``zone`` (None: UTC, for the
    browser to rewrite in its own zone)."""
    utc = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    in_utc = utc.strftime("%Y-%m-%d %H:%M UTC")
    stamp = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    if zone is None:
        return Markup('<time datetime="{}" title="{}" data-local-time>{}</time>').format(
            stamp, in_utc, in_utc
        )
    local = utc.astimezone(zone)
    shown = f"{local:%Y-%m-%d %H:%M} {local.tzname() or local.strftime('%z')}"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(stamp, in_utc, shown)


def page_time_zone() -> ZoneInfo | None:
    """The signed-in user's time zone on a page (None: none set, or no page request)."""
    if not has_request_context() or is_api_path(request.path):
        return None
    user = signed_in_user()
    return time_zone(user.time_zone) if user is not None else None


def words(name: str | None) -> str:
    return (name or "").replace("_", " ")


def label_filter(label: Callable[..., str]) -> Callable[..., str]:
    """``label`` as a Jinja filter that reads its source when the page is rendered.

    Jinja folds a plain filter of constants (``'cancel'|event_label('payout')``) into the
    compiled template, which would keep the label it had then; a filter that takes the context
    is never folded.
    """

    @pass_context
    def read(_context: Any, *args: Any) -> str:
        return label(*args)

    return read


#: Bidirectional embeddings, overrides and isolates, and their terminators.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_OPENS_EMBEDDING, _OPENS_ISOLATE = "\u202a\u202b\u202d\u202e", "\u2066\u2067\u2068"
_PDF, _PDI = "\u202c", "\u2069"


def balance_bidi(value: str) -> str:
    """``value`` with every embedding, override or isolate it opens closed at its end.

    Text a user typed may hold a right-to-left override; shown unclosed it would reverse the
    rest of the line (the grant's number, an amount) on the page. Closed, it affects only the
    text itself. Nothing else changes, so it is safe in attributes and form values too.
    """
    if _BIDI.search(value) is None:
        return value
    stack: list[str] = []
    for char in value:
        if char in _OPENS_EMBEDDING:
            stack.append(_PDF)
        elif char in _OPENS_ISOLATE:
            stack.append(_PDI)
        elif char == _PDF and stack and stack[-1] == _PDF:
            stack.pop()
        elif char == _PDI and _PDI in stack:
            while stack.pop() != _PDI:  # an isolate's end also ends what was opened in it
                pass
    return value + "".join(reversed(stack))


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` of a template: strings with their bidi controls closed."""
    return balance_bidi(value) if isinstance(value, str) else value


def register_page_helpers(app: Flask) -> None:
    """The session cookie, the CSRF check, and the filters and globals of the templates.

    (The HTML error pages are chosen by ``grants.errors.any_error``, see ``html_error``.)
    """
    app.session_interface = PageSessionInterface()
    app.jinja_env.finalize = _finalize
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.jinja_env.filters.update(money=money, when=when, words=words)
    # The labels, read from where they are defined: workflows (states, events, roles).
    app.jinja_env.filters.update(
        state_label=label_filter(state_label),
        event_label=label_filter(event_label),
        role_label=label_filter(role_label),
    )
    app.jinja_env.globals.update(
        csrf_token=csrf_token,
        CSRF_FIELD=CSRF_FIELD,
        kept=kept,
        signed_in_user=signed_in_user,
    )
    app.jinja_env.filters["rate"] = format_rate
    app.jinja_env.filters["amount"] = format_money  # plain "1234.50", as typed in a form
    app.before_request(check_csrf)

    @app.after_request
    def no_store_for_signed_in_pages(response: Response) -> Response:
        # A signed-in page holds personal and financial data: no copy in caches or history.
        if (
            not is_api_path(request.path)
            and session.get("uid")
            and not request.path.startswith("/static/")
        ):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def html_error(exc: BaseException, body: dict[str, Any], code: int) -> Response:
    """The HTML error page of a page request (the API keeps its JSON)."""
    if code >= 500:
        message = "Something went wrong on our side. It has been logged; please try again later."
    else:
        message = body.get("message") or HTTPStatus(code).phrase
    reason = body.get("reason")
    heading = {
        400: "The request could not be used",
        401: "Please sign in",
        403: "Not allowed",
        404: "Page not found",
        405: "Not allowed here",
        409: "This cannot be done now",
        413: "The file is too large",
        415: "This type of file is not accepted",
        422: "Some fields need correcting",
        429: "Too many attempts",
    }.get(code, "Something went wrong" if code >= 500 else HTTPStatus(code).phrase)
    if code == 404:
        message = "There is nothing here, or it is not shared with you."
    try:
        html = render_template(
            "errors/error.html",
            code=code,
            heading=heading,
            message=message,
            reason=REASON_LABELS.get(reason or ""),
            status=HTTPStatus(code).phrase,
        )
    except Exception:  # the error page itself must never fail
        html = f"<!doctype html><title>{code}</title><h1>{code} {HTTPStatus(code).phrase}</h1>"
    response = Response(html, status=code, mimetype="text/html")
    if isinstance(exc, HTTPException) and code == 405:
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
    return response


def markup(svg: str) -> Markup:
    """Server-made SVG (escaped while it was built) for a template."""
    # Built from the workflow table with every text escaped (workflows/diagram.py).
    return Markup(svg)  # noqa: S704  # nosec B704
