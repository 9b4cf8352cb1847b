"""API overhead: the project's GET and POST of a grant against bare Flask + Flask-SQLAlchemy.

Both run under gunicorn with the same worker count on the same PostgreSQL database (a scratch
``pearl_bench_<random>``, created and dropped here):

- the project: ``GET /api/v1/grants/{id}`` and ``POST /api/v1/grants`` (a draft) of one city
  member, with a bearer token;
- the bare stack (``bench/bare_app.py``): one row read by id, and one locked update (``SELECT …
  FOR UPDATE``, ``UPDATE``, commit), JSON out.

Rounds alternate the targets (read project, read bare, write project, write bare, the order
flipped every round) so that both see the same noise; each phase runs a fixed number of client
threads on http.client for a fixed time. Printed: both throughputs per round, the medians, the
ratio project/bare for reads and writes, the CPU per request of the servers (gunicorn workers +
PostgreSQL backends; steadier than throughput on a shared machine), and the SQL statements per
request of each (counted in-process with the Flask test client and a ``before_cursor_execute``
listener). The ratios are held against the floors of issue 10 (read ≥ 0.6×, write ≥ 0.5×); under
them the exit status is 1 only with ``--strict``.

    .venv/bin/python bench/api.py                          # 5 rounds × 10 s per phase
    .venv/bin/python bench/api.py --rounds 3 --seconds 5   # a short run

Needs PostgreSQL (BENCH_DATABASE_URL, default postgresql+psycopg://root@127.0.0.1:5432/test, the
admin connection) and gunicorn (``.venv/bin/pip install -e '.[server]'``). All traffic goes to
127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load.harness import backends, cpu_of, free_port, migrate, stop  # noqa: E402

BIN = Path(sys.executable).parent
ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
HOST = "127.0.0.1"
API = "/api/v1"
FLOORS = {"read": 0.6, "write": 0.5}  # issue 10: reads ≥ 0.6×, writes ≥ 0.5× of the bare stack
REQUEST_TIMEOUT = 30.0
GRANT_BODY = {
    "title": "Story evenings in the harbour",
    "summary": "With the library and the rowing club.",
    "budget_lines": [
        {"category": "venue", "description": "Hall for six evenings", "amount": "600.00"},
        {"category": "fees", "description": "Storytellers", "amount": "400.00"},
    ],
}


# ---------------------------------------------------------------------------------------------
# The scratch database and its seed


@contextlib.contextmanager
def scratch_database(admin_url: str = ADMIN_URL) -> Iterator[str]:
    """A fresh database beside ``admin_url``'s for the run, dropped afterwards whatever happens."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"pearl_bench_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def seed(app: Any) -> str:
    """One city with a title valid today and one member with a bearer token; the raw token."""
    from grants.cities.models import City, Title
    from grants.extensions import db
    from grants.users.models import ApiToken, User
    from workflows.grant import CITY_MEMBER

    today = dt.datetime.now(dt.UTC).date()
    raw = secrets.token_urlsafe(32)
    with app.app_context():
        city = City(name="Bench Pearl", country=app.config["ELIGIBLE_COUNTRIES"][0], population=1)
        db.session.add(city)
        db.session.flush()
        db.session.add(
            Title(
                city_id=city.id,
                year=today.year,
                valid_from=today - dt.timedelta(days=30),
                valid_until=today + dt.timedelta(days=400),
                cap_cents=5_000_00,
            )
        )
        # The member never signs in with a password: the token below is all it uses.
        user = User(email="member@bench.test", password_hash="!", role=CITY_MEMBER, city_id=city.id)
        db.session.add(user)
        db.session.flush()
        db.session.add(
            ApiToken(
                user_id=user.id,
                token_hash=hashlib.sha256(raw.encode()).hexdigest(),
                expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            )
        )
        db.session.commit()
    return raw


def grant_body() -> dict[str, Any]:
    today = dt.datetime.now(dt.UTC).date()
    return GRANT_BODY | {
        "start_date": (today + dt.timedelta(days=10)).isoformat(),
        "end_date": (today + dt.timedelta(days=200)).isoformat(),
    }


# ---------------------------------------------------------------------------------------------
# SQL statements per request, in-process


def count_statements(app: Any, engine: Any, calls: list[Callable[[Any], Any]]) -> list[int]:
    """The statements each call runs on ``engine``, after one untimed warm-up round of them all."""
    from sqlalchemy import event

    counter = [0]

    def count(*_: Any) -> None:
        counter[0] += 1

    client = app.test_client()
    for call in calls:
        call(client)
    counts = []
    event.listen(engine, "before_cursor_execute", count)
    try:
        for call in calls:
            counter[0] = 0
            call(client)
            counts.append(counter[0])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return counts


def statements(url: str, secret: str, token: str, grant_id: int) -> dict[str, tuple[int, int]]:
    """``{"read": (project, bare), "write": (project, bare)}``: SQL statements per request."""
    from bench import bare_app
    from grants.app import create_app
    from grants.extensions import db

    auth = {"Authorization": f"Bearer {token}"}
    body = grant_body()

    def read(c: Any) -> None:
        r = c.get(f"{API}/grants/{grant_id}", headers=auth)
        assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:300])

    def write(c: Any) -> None:
        r = c.post(f"{API}/grants", json=body, headers=auth)
        assert r.status_code == 201, (r.status_code, r.get_data(as_text=True)[:300])

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret, "REDIS_URL": None})
    with app.app_context():
        project = count_statements(app, db.engine, [read, write])
        db.engine.dispose()

    bare = bare_app.create_app(url)

    def bare_read(c: Any) -> None:
        assert c.get("/rows/1").status_code == 200

    def bare_write(c: Any) -> None:
        assert c.post("/rows/1", json={"amount_cents": 1}).status_code == 200

    with bare.app_context():
        plain = count_statements(bare, bare_app.db.engine, [bare_read, bare_write])
        bare_app.db.engine.dispose()
    return {"read": (project[0], plain[0]), "write": (project[1], plain[1])}


# ---------------------------------------------------------------------------------------------
# The servers


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    def workers(self) -> list[int]:
        try:
            path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []


def start_server(name: str, target: str, workers: int, env: dict[str, str], folder: Path) -> Server:
    port = free_port()
    log = folder / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"{HOST}:{port}", target],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this script only; it stops the servers
        )
    return Server(name, port, proc, log)


def wait_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited early:\n{server.log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection(HOST, server.port, timeout=5)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} not ready in 60 s:\n{server.log.read_text()[-3000:]}")


# ---------------------------------------------------------------------------------------------
# The load


@dataclass
class Phase:
    """One target and one kind of request: what the client threads send."""

    target: str  # project or bare
    kind: str  # read or write
    server: Server
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    ok: int


@dataclass
class Outcome:
    done: int = 0
    errors: int = 0
    first_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


def drive(phase: Phase, threads: int, seconds: float) -> tuple[int, int, str, float]:
    """Send the phase's request from ``threads`` closed-loop clients for ``seconds``.

    Returns (answers as expected, other answers or connection errors, the first of those, the
    elapsed seconds). Every request has a timeout and every thread stops at the deadline.
    """
    outcome = Outcome()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        conn = http.client.HTTPConnection(HOST, phase.server.port, timeout=REQUEST_TIMEOUT)
        done = errors = 0
        try:
            while time.monotonic() < deadline:
                try:
                    conn.request(phase.method, phase.path, body=phase.body, headers=phase.headers)
                    response = conn.getresponse()
                    data = response.read()
                    if response.status == phase.ok:
                        done += 1
                        continue
                    problem = f"{response.status} {data[:300]!r}"
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    problem = f"{type(exc).__name__}: {exc}"
                errors += 1
                with outcome.lock:
                    outcome.first_error = outcome.first_error or problem
        finally:
            conn.close()
            with outcome.lock:
                outcome.done += done
                outcome.errors += errors

    start = time.monotonic()
    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=seconds + REQUEST_TIMEOUT + 5)
    return outcome.done, outcome.errors, outcome.first_error, time.monotonic() - start


@dataclass
class Result:
    rate: float  # requests/s answered as expected
    cpu_ms: float  # server CPU (gunicorn workers + PostgreSQL backends) per request, ms
    errors: int


def measure(phase: Phase, threads: int, seconds: float, url: str) -> tuple[Result, str]:
    pids = phase.server.workers() + backends(url)
    before = cpu_of(pids)
    done, errors, first, elapsed = drive(phase, threads, seconds)
    pids = phase.server.workers() + backends(url)
    after = cpu_of(pids)
    used = sum(after[p] - before.get(p, 0.0) for p in after)
    cpu_ms = 1000 * used / done if done else float("nan")
    return Result(done / elapsed, cpu_ms, errors), first


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# The run


def run(args: argparse.Namespace) -> int:
    from bench import bare_app

    folder = Path(tempfile.mkdtemp(prefix="pearl-bench-api-"))
    secret = secrets.token_hex(32)
    servers: list[Server] = []
    keep = False  # the servers' logs, kept when something failed
    with scratch_database() as url:
        try:
            env = {k: v for k, v in os.environ.items() if k not in ("FLASK_DEBUG", "REDIS_URL")}
            env.update(DATABASE_URL=url, SECRET_KEY=secret, BARE_DATABASE_URL=url)
            migrate(env)
            from grants.app import create_app
            from grants.extensions import db

            app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret, "REDIS_URL": None})
            token = seed(app)
            with app.app_context():
                db.engine.dispose()
            bare_app.prepare(url)

            body = json.dumps(grant_body()).encode()
            auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            json_auth = auth | {"Content-Type": "application/json"}
            # The grant every read asks for: a draft proposed once, before anything is timed.
            client = app.test_client()
            created = client.post(f"{API}/grants", data=body, headers=json_auth)
            if created.status_code != 201:
                raise RuntimeError(f"POST {API}/grants: {created.status_code} {created.data!r}")
            grant_id = created.get_json()["id"]
            with app.app_context():
                db.engine.dispose()
            counts = statements(url, secret, token, grant_id)

            servers.append(start_server("project", "wsgi:app", args.workers, env, folder))
            servers.append(
                start_server("bare", "bench.bare_app:create_app()", args.workers, env, folder)
            )
            project, bare = servers
            wait_ready(project, "/healthz")
            wait_ready(bare, "/rows/1")

            plain = {"Accept": "application/json"}
            phases = {
                ("project", "read"): Phase(
                    "project", "read", project, "GET", f"{API}/grants/{grant_id}", auth, None, 200
                ),
                ("bare", "read"): Phase("bare", "read", bare, "GET", "/rows/1", plain, None, 200),
                ("project", "write"): Phase(
                    "project", "write", project, "POST", f"{API}/grants", json_auth, body, 201
                ),
                ("bare", "write"): Phase(
                    "bare",
                    "write",
                    bare,
                    "POST",
                    "/rows/1",
                    plain | {"Content-Type": "application/json"},
                    b'{"amount_cents": 1}',
                    200,
                ),
            }
            cores = len(os.sched_getaffinity(0))
            print(
                f"API overhead: {args.rounds} rounds × {args.seconds:g} s per phase, "
                f"{args.threads} client threads, gunicorn --workers {args.workers} for both, "
                f"PostgreSQL, {cores} cores, load average {os.getloadavg()[0]:.1f} at the start",
                flush=True,
            )
            for phase in phases.values():  # warm every worker's pool and caches, untimed
                drive(phase, args.threads, min(2.0, args.seconds))

            results: dict[tuple[str, str], list[Result]] = {key: [] for key in phases}
            print(f"\n{'round':>5}  {'kind':<6}{'project/s':>11}{'bare/s':>10}{'ratio':>8}", end="")
            print(f"{'project CPU ms':>16}{'bare CPU ms':>13}", flush=True)
            for n in range(1, args.rounds + 1):
                order = ("project", "bare") if n % 2 else ("bare", "project")
                for kind in ("read", "write"):
                    got: dict[str, Result] = {}
                    for target in order:
                        result, first = measure(
                            phases[(target, kind)], args.threads, args.seconds, url
                        )
                        got[target] = result
                        results[(target, kind)].append(result)
                        if result.errors:
                            print(f"  {target} {kind}: {result.errors} errors, first: {first}")
                    p, b = got["project"], got["bare"]
                    print(
                        f"{n:>5}  {kind:<6}{p.rate:>11.1f}{b.rate:>10.1f}"
                        f"{p.rate / b.rate if b.rate else float('nan'):>7.2f}×"
                        f"{p.cpu_ms:>16.2f}{b.cpu_ms:>13.2f}",
                        flush=True,
                    )

            print("\nmedians of the rounds:")
            under = []
            for kind in ("read", "write"):
                p_rate = median([r.rate for r in results[("project", kind)]])
                b_rate = median([r.rate for r in results[("bare", kind)]])
                p_cpu = median([r.cpu_ms for r in results[("project", kind)]])
                b_cpu = median([r.cpu_ms for r in results[("bare", kind)]])
                ratio = p_rate / b_rate if b_rate else float("nan")
                ratios = [
                    p.rate / b.rate
                    for p, b in zip(
                        results[("project", kind)], results[("bare", kind)], strict=True
                    )
                    if b.rate
                ]
                floor = FLOORS[kind]
                ok = ratio >= floor
                if not ok:
                    under.append(kind)
                stmts = counts[kind]
                print(
                    f"  {kind:<6} project {p_rate:.1f}/s, bare {b_rate:.1f}/s: ratio "
                    f"{ratio:.2f}× (per-round ratios {min(ratios):.2f}–{max(ratios):.2f}), "
                    f"floor {floor}× {'PASS' if ok else 'UNDER'}; server CPU per request "
                    f"{p_cpu:.2f} ms vs {b_cpu:.2f} ms (bare/project {b_cpu / p_cpu:.2f}×); "
                    f"SQL statements per request {stmts[0]} vs {stmts[1]}"
                )
            errors = sum(r.errors for rs in results.values() for r in rs)
            print(
                f"load average (1 min) at the end {os.getloadavg()[0]:.1f} ({cores} cores); "
                f"errors {errors}"
            )
            if errors:
                keep = True
                print(f"logs kept in {folder}")
                return 1
            if under and args.strict:
                print(f"--strict: {', '.join(under)} under the floor")
                return 1
            return 0
        finally:
            for server in servers:
                stop(server.proc)
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)


def terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    """Parse the options, run the bench, and clean up even on Ctrl-C or SIGTERM."""
    cores = len(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase and round")
    parser.add_argument("--workers", type=int, default=2 * cores, help="gunicorn workers of both")
    parser.add_argument("--threads", type=int, default=2 * 2 * cores, help="client threads")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a ratio is under its floor"
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds <= 0 or args.workers < 1 or args.threads < 1:
        parser.error("--rounds, --seconds, --workers and --threads must be positive")
    signal.signal(signal.SIGTERM, terminate)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, database dropped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
