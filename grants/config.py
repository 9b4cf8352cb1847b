"""Settings: defaults, then the environment, then a mapping passed to ``create_app``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

# Setting names such as SECRET_KEY and TOKEN_TTL_HOURS are not secrets (bandit B105).
DEFAULTS: dict[str, Any] = {  # nosec B105
    "DATABASE_URL": None,  # None: an SQLite file under the instance folder
    "REDIS_URL": None,  # None: jobs run in-process
    "SECRET_KEY": None,
    "SEED_MONEY_CAP_EUR": "5000.00",
    "ADVANCE_SHARE": "0.50",
    "ELIGIBLE_COUNTRIES": "DK,EE,FI,DE,LV,LT,PL,SE",
    "MAX_UPLOAD_MB": 20,
    "MAX_JSON_KB": 256,  # a JSON body larger than this is refused (413) before it is parsed
    "MAX_RECEIPTS_PER_REPORT": 200,
    "MAX_RECEIPT_MB_PER_GRANT": 200,  # all receipts of one grant together
    "SMTP_URL": None,
    "TOKEN_TTL_HOURS": 12,
    "INTERIM_REPORT_AT": "midpoint",
    "FINAL_REPORT_DUE_DAYS": 60,
    "REMINDER_DAYS_BEFORE": 14,
    "REMINDER_DAYS_AFTER": 7,
    "EXPORT_DIR": None,  # None: files are kept in the database
    "IDEMPOTENCY_WAIT_SECONDS": 10,
    # A claimed key whose request never answered (a killed worker) is released after this.
    "IDEMPOTENCY_ABANDONED_SECONDS": 120,
    "PASSWORD_HASH_METHOD": "scrypt:32768:8:1",
    "LOCK_TIMEOUT_MS": 10000,
    "DB_POOL_SIZE": 10,
    "EXPORT_QUEUE": "exports",
    "EXPORT_JOB_TIMEOUT": 1800,
    "EXPORT_LEASE_SECONDS": 120,
    "EXPORT_MAX_ATTEMPTS": 3,
    "EXPORT_SWEEP_SECONDS": 5,  # the worker's dispatcher: how often it re-queues what is lost
    "SQLITE_BUSY_TIMEOUT_MS": 10000,
    # The page session cookie is Secure on HTTPS requests; set this when a proxy ends TLS.
    "SESSION_COOKIE_SECURE": False,
}

INT_SETTINGS = {
    "MAX_UPLOAD_MB",
    "MAX_JSON_KB",
    "MAX_RECEIPTS_PER_REPORT",
    "MAX_RECEIPT_MB_PER_GRANT",
    "TOKEN_TTL_HOURS",
    "FINAL_REPORT_DUE_DAYS",
    "REMINDER_DAYS_BEFORE",
    "REMINDER_DAYS_AFTER",
    "IDEMPOTENCY_WAIT_SECONDS",
    "IDEMPOTENCY_ABANDONED_SECONDS",
    "LOCK_TIMEOUT_MS",
    "DB_POOL_SIZE",
    "EXPORT_JOB_TIMEOUT",
    "EXPORT_LEASE_SECONDS",
    "EXPORT_MAX_ATTEMPTS",
    "EXPORT_SWEEP_SECONDS",
    "SQLITE_BUSY_TIMEOUT_MS",
}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the service refuses to start."""


def load_settings(
    instance_path: str, overrides: Mapping[str, Any] | None = None, *, debug: bool = False
) -> dict[str, Any]:
    """Merge the defaults, the environment and ``overrides`` and normalise the values."""
    settings = dict(DEFAULTS)
    for key in DEFAULTS:
        if key in os.environ and os.environ[key] != "":
            settings[key] = os.environ[key]
    if overrides:
        settings.update(overrides)

    for key in INT_SETTINGS:
        try:
            settings[key] = int(settings[key])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key} must be a whole number, not {settings[key]!r}") from exc

    try:
        cap = Decimal(str(settings["SEED_MONEY_CAP_EUR"]))
        share = Decimal(str(settings["ADVANCE_SHARE"]))
    except InvalidOperation as exc:
        raise ConfigError("SEED_MONEY_CAP_EUR and ADVANCE_SHARE must be decimal numbers") from exc
    if cap <= 0 or cap != cap.quantize(Decimal("0.01")):
        raise ConfigError("SEED_MONEY_CAP_EUR must be a positive amount with at most 2 decimals")
    if not Decimal(0) < share <= Decimal(1):
        raise ConfigError("ADVANCE_SHARE must lie in (0, 1]")
    settings["SEED_MONEY_CAP_CENTS"] = int(cap * 100)
    settings["ADVANCE_SHARE"] = share

    secure = settings["SESSION_COOKIE_SECURE"]
    if isinstance(secure, str):
        secure = secure.strip().lower() in ("1", "true", "yes", "on")
    settings["SESSION_COOKIE_SECURE"] = bool(secure)

    countries = settings["ELIGIBLE_COUNTRIES"]
    if isinstance(countries, str):
        countries = [c.strip().upper() for c in countries.split(",") if c.strip()]
    settings["ELIGIBLE_COUNTRIES"] = tuple(countries)

    if not settings["DATABASE_URL"]:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        settings["DATABASE_URL"] = f"sqlite:///{Path(instance_path) / 'pearl-grants.sqlite'}"
    elif settings["DATABASE_URL"].startswith("postgresql://"):
        # psycopg 3 is the driver we ship; a plain postgresql:// URL means it.
        settings["DATABASE_URL"] = "postgresql+psycopg://" + settings["DATABASE_URL"][13:]

    if not settings["SECRET_KEY"]:
        if not (debug or settings.get("TESTING")):
            raise ConfigError(
                "SECRET_KEY is required outside debug mode: set it in the environment"
            )
        settings["SECRET_KEY"] = "dev-only-not-secret"  # noqa: S105  # nosec B105
    return settings
