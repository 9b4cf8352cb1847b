"""Where the load test runs, what it seeds and how long it waits."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

BASE_URL = os.environ.get("LOAD_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/0")
HOST = "127.0.0.1"
API = "/api/v1"
CITIES = 40
OFFICERS = 4
PASSWORD = "load-test-password"
RATES = {"DKK": "7.4604", "SEK": "11.2150"}
REQUEST_TIMEOUT = 30.0  # gunicorn's worker timeout is 30 s as well
EXPORT_EVERY = 40.0  # seconds between two statements of the auditor
EXPORT_WAIT = 180.0  # a statement not finished by then is an error
SETTLE_WAIT = 300.0  # after the load: exports still queued or running may finish meanwhile

CATEGORIES = ("services", "venue", "materials", "equipment", "travel", "fees", "communication")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
