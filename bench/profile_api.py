"""Where a request's time goes: ``cProfile`` of the project's GET and POST of a grant, in-process.

The same seed as ``bench/api.py`` on a scratch PostgreSQL database (created and dropped here);
requests go through Flask's test client, so the figures are the app's own work plus its
database round trips (no HTTP server). Prints the time per request without the profiler, then
the profile's top functions.

    .venv/bin/python bench/profile_api.py                  # 500 reads and 500 writes
    .venv/bin/python bench/profile_api.py --requests 200 --sort tottime --only read
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.api import API, grant_body, scratch_database, seed  # noqa: E402
from bench.load.harness import migrate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--sort", default="cumulative", help="a pstats sort key")
    parser.add_argument("--lines", type=int, default=40, help="functions shown")
    parser.add_argument("--only", choices=("read", "write"))
    args = parser.parse_args()

    from grants.app import create_app
    from grants.extensions import db

    with scratch_database() as url:
        secret = secrets.token_hex(16)
        migrate({**os.environ, "DATABASE_URL": url, "SECRET_KEY": secret})
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret, "REDIS_URL": None})
        auth = {"Authorization": f"Bearer {seed(app)}"}
        client = app.test_client()
        created = client.post(f"{API}/grants", json=grant_body(), headers=auth)
        assert created.status_code == 201, created.get_data(as_text=True)
        grant_id = created.get_json()["id"]

        def read() -> None:
            assert client.get(f"{API}/grants/{grant_id}", headers=auth).status_code == 200

        def write() -> None:
            r = client.post(f"{API}/grants", json=grant_body(), headers=auth)
            assert r.status_code == 201

        for _ in range(50):  # warm: statement caches, prepared statements, the audit head
            read()
            write()
        for name, call in (("read", read), ("write", write)):
            if args.only and name != args.only:
                continue
            started = time.perf_counter()
            for _ in range(args.requests):
                call()
            per_request = (time.perf_counter() - started) / args.requests * 1000
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.requests):
                call()
            profile.disable()
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(args.lines)
            print(f"== {name}: {per_request:.2f} ms per request in-process (without the profiler)")
            print(out.getvalue())
        with app.app_context():
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
