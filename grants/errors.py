"""The project's domain errors, each with its status and (for refusals) a stable reason.

Services raise these; the app-level handlers of ``grants.http.errors`` turn them, and every
other error, into the one JSON shape of api.md. This module knows no request and no response.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from workflows.errors import TransitionNotAllowed, WorkflowError


class AppError(Exception):
    code = 400
    reason: str | None = None
    #: The reason in a few words, as a page shows it (every refusal with a reason has one).
    label: str | None = None
    message = "The request cannot be processed."

    def __init__(
        self, message: str | None = None, *, errors: dict[str, Any] | None = None, **data: Any
    ):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.errors = errors
        self.data = data


class Unauthorized(AppError):
    code = 401
    message = "Sign in first: a valid bearer token is required."


class Forbidden(AppError):
    code = 403
    message = "Your role may not do this."


class NotFound(AppError):
    code = 404
    message = "Not found."


class Unprocessable(AppError):
    code = 422
    message = "The request is not valid: see errors."

    @classmethod
    def field(cls, name: str, text: str, location: str = "json") -> Unprocessable:
        return cls(errors={location: {name: [text]}})


class PayloadTooLarge(AppError):
    code = 413
    message = "The file is too large."


class UnsupportedMediaType(AppError):
    code = 415
    message = "This type of file is not accepted."


class TooManyAttempts(AppError):
    code = 429
    message = "Too many failed sign-in attempts: try again later."


class Conflict(AppError):
    code = 409
    reason = "invalid_transition"
    label = "Not possible in the current state"
    message = "The request conflicts with the current state."


class InvalidTransition(Conflict):
    reason = "invalid_transition"


class CapExceeded(Conflict):
    reason = "cap_exceeded"
    label = "Above the title's seed money"
    message = "The amount exceeds what is left of the title's seed money."


class CityNotEligible(Conflict):
    reason = "city_not_eligible"
    label = "The city is not eligible now"
    message = "The city is not eligible for seed money now."


class FourEyes(Conflict):
    reason = "four_eyes"
    label = "Another finance officer must confirm"
    message = (
        "A payout must be confirmed by another finance officer than the one who authorised it."
    )


class RateMissing(Conflict):
    reason = "rate_missing"
    label = "An exchange rate is missing"
    message = "No exchange rate is known for a currency in the submission month."


class OverApproved(Conflict):
    reason = "over_approved"
    label = "Above the approved or requested amount"
    message = "The amount exceeds what was requested or what remains of the approved amount."


class AgreementMissing(Conflict):
    reason = "agreement_missing"
    label = "The grant agreement is not signed yet"
    message = "The grant agreement must be signed by the city and countersigned first."


class MoneyOwed(Conflict):
    reason = "money_owed"
    label = "Money is still owed"
    message = "Money is still owed: the grant cannot be closed."


class NotReady(Conflict):
    reason = "not_ready"
    label = "Not ready yet"
    message = "The file is not ready yet."


class IdempotencyMismatch(Conflict):
    reason = "idempotency_mismatch"
    label = "The key was used with another request"
    message = "This Idempotency-Key was used with another request body."


class IdempotencyInProgress(Conflict):
    reason = "idempotency_in_progress"
    label = "The first request with this key is still running"
    message = "The first request with this Idempotency-Key is still running: retry later."


class Stale(Conflict):
    reason = "stale"
    label = "Someone else changed it at the same time"
    message = "A concurrent change won or a lock wait timed out: retry."


class AlreadyTaken(Conflict):
    reason = "conflict"
    label = "Already taken"
    message = "A unique value is already taken (for example an e-mail address): choose another."


class TitleOverlap(Conflict):
    reason = "title_overlap"
    label = "The titles overlap"
    message = "The city already holds a title whose validity overlaps this one."


class BudgetExceeded(Conflict):
    reason = "budget_exceeded"
    label = "Above the programme's budget for the title year"
    message = "The amount exceeds what is left of the programme's budget for the title year."


class AccountUnverified(Conflict):
    reason = "account_unverified"
    label = "The city has no verified bank account"
    message = (
        "The city has no verified bank account in force: a finance officer other than the one "
        "who proposed it verifies it first."
    )


class AccountChanged(Conflict):
    reason = "account_changed"
    label = "The city's bank account changed"
    message = (
        "The city's verified bank account changed after this payout was authorised: cancel "
        "the payout and authorise it again."
    )


def _refusals(cls: type[AppError]) -> list[type[AppError]]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _refusals(child))]


#: The label of every reason of a refusal, read from the classes above (the one source).
REASON_LABELS: dict[str, str] = {
    cls.reason: cls.label for cls in _refusals(Conflict) if cls.reason and cls.label
}


# ---------------------------------------------------------------------------------------------
# Verdicts of the policies: "may this user do X now"

#: What a policy refuses with: a domain error, or the workflow table's own refusal of an event
#: (a TransitionNotAllowed is the 409 ``invalid_transition`` the lifecycles raise today).
Refusal = AppError | WorkflowError


class Verdict(NamedTuple):
    """The answer of a policy (``grants/<aggregate>/policies.py``): allowed, or the refusal.

    The refusal is the error the service raises (:meth:`enforce`), so its status (403 role,
    409 state, 422) and message stay those of the API; pages read :attr:`allowed` and
    :attr:`reason`. A verdict is truthy only when allowed (a plain tuple would always be).
    """

    allowed: bool
    refusal: Refusal | None = None

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def reason(self) -> str | None:
        """The refusal in words, as the city team or finance officer reads it; None if allowed."""
        if self.refusal is None:
            return None
        if isinstance(self.refusal, AppError):
            return self.refusal.message
        return str(self.refusal)

    @property
    def reason_code(self) -> str | None:
        """The refusal's stable reason of api.md (``four_eyes``…); None if allowed or a 403."""
        if isinstance(self.refusal, AppError):
            return self.refusal.reason
        return "invalid_transition" if isinstance(self.refusal, TransitionNotAllowed) else None

    @property
    def code(self) -> int | None:
        """The HTTP status the refusal is answered with (None if allowed)."""
        if self.refusal is None:
            return None
        if isinstance(self.refusal, AppError):
            return self.refusal.code
        return 409 if isinstance(self.refusal, TransitionNotAllowed) else 403

    def enforce(self) -> None:
        """Raise the refusal; nothing if allowed."""
        if self.refusal is not None:
            raise self.refusal


#: The verdict of every check that passes.
ALLOWED = Verdict(True)


def refuse(error: Refusal) -> Verdict:
    return Verdict(False, error)


def is_contention(exc: BaseException) -> bool:
    """A lost race or a lock wait that ran out: the client should retry (409 stale)."""
    if isinstance(exc, StaleDataError):
        return True
    if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        # serialization_failure, deadlock_detected, lock_not_available, query_canceled (timeout)
        return sqlstate in {"40001", "40P01", "55P03", "57014"}
    return False


def is_unique_violation(exc: BaseException) -> bool:
    """A concurrent request took the same unique value first (the pre-check could not see it)."""
    if not isinstance(exc, IntegrityError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    # unique_violation, exclusion_violation (PostgreSQL); SQLite names the constraint kind.
    return sqlstate in {"23505", "23P01"} or "UNIQUE constraint failed" in str(exc.orig)
