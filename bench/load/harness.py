"""The harness: a fresh database, the seed, gunicorn and the export worker, the run, the checks."""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import bench.load
from bench.load.chaos import Chaos, Outages, RedisServer, Worker, print_windows
from bench.load.client import Client, User
from bench.load.config import (
    API,
    BASE_URL,
    BIN,
    CITIES,
    HOST,
    OFFICERS,
    PASSWORD,
    RATES,
    REDIS_URL,
    ROOT,
    SETTLE_WAIT,
    utc_today,
)
from bench.load.contract import has_keys
from bench.load.oracle import check_invariants, money
from bench.load.report import Stats, report
from bench.load.scenario import Ctx, Driver, World
from workflows.grant import ADMIN, AUDITOR, CITY_MEMBER, FINANCE_OFFICER

# ---------------------------------------------------------------------------------------------
# Setting up: database, seed, processes


def create_database() -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"pearl_load_{secrets.token_hex(4)}"
    admin = create_engine(BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(BASE_URL).set(database=name).render_as_string(hide_password=False), drop


def seed(url: str, secret: str) -> int:
    """Cities with titles valid today, their members, officers, an auditor, an admin, rates."""
    from sqlalchemy import select

    from grants.app import create_app
    from grants.banking.services import decide_account, propose_account
    from grants.cities.services import create_city, create_title
    from grants.extensions import db
    from grants.rates.models import parse_rate
    from grants.rates.services import set_rate
    from grants.users.models import User
    from grants.users.services import create_user

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret, "REDIS_URL": None})
    today = utc_today()
    rnd = random.Random(7)
    with app.app_context():
        countries = app.config["ELIGIBLE_COUNTRIES"]
        for i in range(1, CITIES + 1):
            city = create_city(
                {
                    "name": f"Pearl {i:02d}",
                    "country": countries[i % len(countries)],
                    "population": rnd.randint(8_000, 120_000),
                    "is_capital": False,
                },
                actor=None,
            )
            create_title(
                city,
                {
                    "year": today.year,
                    "valid_from": today - dt.timedelta(days=120),
                    "valid_until": today + dt.timedelta(days=400),
                },
                actor=None,
            )
            create_user(
                {
                    "email": f"member{i:02d}@load.test",
                    "password": PASSWORD,
                    "role": CITY_MEMBER,
                    "city_id": city.id,
                },
                actor=None,
            )
        staff = [(f"finance{k}@load.test", FINANCE_OFFICER) for k in range(1, OFFICERS + 1)]
        staff += [("auditor@load.test", AUDITOR), ("admin@load.test", ADMIN)]
        officers = [
            create_user({"email": email, "password": PASSWORD, "role": role}, actor=None)
            for email, role in staff
        ]
        # Payouts are authorised only against a city's verified bank account (four eyes).
        members = list(db.session.scalars(select(User).where(User.role == CITY_MEMBER)))
        for member in members:
            account = propose_account(
                member.city_id,
                {"holder": f"Municipality {member.city_id}", "iban": "DE89370400440532013000"},
                actor=member,
            )
            decide_account(account, {"event": "verify"}, actor=officers[0])
        next_month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        for month in (today.strftime("%Y-%m"), next_month.strftime("%Y-%m")):
            for currency, rate in RATES.items():
                set_rate(month, currency, parse_rate(rate), actor=None)
        db.session.commit()
        db.engine.dispose()
    return today.year


def make_url_database(url: str) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(url).database)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_healthy(port: int, procs: list[subprocess.Popen], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited early:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            body = response.read()
            conn.close()
            if response.status == 200 and json.loads(body).get("queue") == "ok":
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the service did not become healthy in 60 s:\n{log.read_text()[-3000:]}")


def sign_in(port: int, stats: Stats) -> tuple[dict[int, User], list[User], User, User]:
    client = Client(port, stats)
    users = [User(f"member{i:02d}@load.test", CITY_MEMBER) for i in range(1, CITIES + 1)]
    users += [User(f"finance{k}@load.test", FINANCE_OFFICER) for k in range(1, OFFICERS + 1)]
    users += [User("auditor@load.test", AUDITOR), User("admin@load.test", ADMIN)]
    for user in users:
        r = client.call(
            "POST /auth/tokens",
            "POST",
            f"{API}/auth/tokens",
            None,
            {"email": user.email, "password": PASSWORD},
            ok=(201,),
            check=lambda b, h: has_keys(b, ("token", "expires_at", "user"), "token"),
        )
        if not r.ok:
            raise RuntimeError(f"sign-in of {user.email} failed: {stats.details[-1:]}")
        user.token = r.body["token"]
        user.id = r.body["user"]["id"]
        user.city_id = r.body["user"]["city_id"]
    client.close()
    members = {u.city_id: u for u in users if u.role == CITY_MEMBER}
    officers = [u for u in users if u.role == FINANCE_OFFICER]
    return members, officers, users[-2], users[-1]


def cpu_of(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each live process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def migrate(env: dict[str, str]) -> None:
    """The project's schema in the database of ``env['DATABASE_URL']`` (flask db upgrade)."""
    subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def backends(url: str) -> list[int]:
    """The PostgreSQL backends connected to the database of ``url`` (the servers' pools)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :name "
                    "AND pid <> pg_backend_pid()"
                ),
                {"name": make_url(url).database},
            ).scalars()
            return list(rows)
    finally:
        engine.dispose()


def server_pids(master: int, url: str) -> tuple[list[int], list[int]]:
    """The gunicorn workers (children of the master) and the PostgreSQL backends of the run."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        children = []
    return [int(c) for c in children], backends(url)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def drop_queue(name: str) -> None:
    """Remove this run's queue, its registries and their jobs from (the shared) Redis."""
    from redis import Redis

    redis = Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        keys = list(redis.scan_iter(match=f"rq:*:{name}", count=500))
        job_ids: set[bytes] = set()
        for key in keys:
            kind = redis.type(key)
            if kind == b"list":
                job_ids.update(redis.lrange(key, 0, -1))
            elif kind == b"zset":
                job_ids.update(redis.zrange(key, 0, -1))
        doomed = keys + [b"rq:job:" + j for j in job_ids] + [b"rq:results:" + j for j in job_ids]
        for key in redis.scan_iter(match="rq:worker:*", count=500):
            if redis.type(key) == b"hash" and redis.hget(key, "queues") == name.encode():
                doomed.append(key)
                redis.srem("rq:workers", key)
        for start in range(0, len(doomed), 500):
            redis.delete(*doomed[start : start + 500])
    finally:
        redis.close()


# ---------------------------------------------------------------------------------------------
# Afterwards: the database


def wait_exports(url: str, timeout: float = SETTLE_WAIT) -> dict[str, int]:
    """Wait (at most ``timeout`` s) until no export is queued or running; the counts by status."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                counts = dict(
                    conn.execute(text("SELECT status, count(*) FROM exports GROUP BY status")).all()
                )
            if not counts.get("queued") and not counts.get("running"):
                return counts
            if time.monotonic() > deadline:
                return counts
            time.sleep(1)
    finally:
        engine.dispose()


def keys_in_progress(url: str) -> list[tuple]:
    """Idempotency keys still without a stored answer: nothing is running once the load is over."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT k.method, k.path, k.key, k.created_at, u.email FROM idempotency_keys k"
                    " JOIN users u ON u.id = k.user_id WHERE k.response_status IS NULL"
                    " ORDER BY k.id"
                )
            ).all()
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def audit_verify(env: dict[str, str]) -> tuple[bool, str]:
    out = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = (out.stdout + out.stderr).strip().splitlines()
    return out.returncode == 0, (text[-1] if text else f"exit {out.returncode}")


def count_lines(log: Path, *needles: str) -> dict[str, int]:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return {n: sum(n in line for line in lines) for n in needles}


def log_findings(log: Path) -> list[str]:
    """Tracebacks, worker timeouts and restarts from the gunicorn log."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    found = []
    for i, line in enumerate(lines):
        if "Traceback" in line or "WORKER TIMEOUT" in line or "CRITICAL" in line:
            found.append("\n".join(lines[max(0, i - 1) : i + 30]))
        if len(found) >= 3:
            break
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=(bench.load.__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("LOAD_SECONDS", 300)))
    parser.add_argument("--clients", type=int, default=8, help="client threads (plus the auditor)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--chaos",
        action="store_true",
        help="kill and restart the worker and a private Redis, and terminate the database's "
        "connections, during the load (see bench/load/chaos.py)",
    )
    parser.add_argument(
        "--chaos-every", type=float, default=9.0, help="seconds between two blows (--chaos)"
    )
    parser.add_argument(
        "--lease",
        type=int,
        default=20,
        help="EXPORT_LEASE_SECONDS under --chaos (a killed worker's statement waits for it)",
    )
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0))
    workers = 2 * cores  # the README: "2 × cores is a good start"
    folder = Path(tempfile.mkdtemp(prefix="pearl-load-"))
    log = folder / "gunicorn.log"
    worker_log = folder / "worker.log"
    secret = secrets.token_hex(32)
    queue = f"pearl_load_{secrets.token_hex(4)}"
    url, drop = create_database()
    env = dict(os.environ)
    env.pop("FLASK_DEBUG", None)
    env.update(DATABASE_URL=url, REDIS_URL=REDIS_URL, SECRET_KEY=secret, EXPORT_QUEUE=queue)
    redis = None
    if args.chaos:  # a Redis of this run only: the shared one on 6379 is never killed
        redis = RedisServer(free_port(), folder)
        redis.start()
        env.update(REDIS_URL=redis.url, EXPORT_LEASE_SECONDS=str(args.lease))
    server = None
    worker = Worker(env, worker_log)
    stats = Stats()
    try:
        migrate(env)
        year = seed(url, secret)
        port = free_port()
        with open(log, "wb") as out:
            server = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "--workers",
                    str(workers),
                    "--bind",
                    f"{HOST}:{port}",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_healthy(port, [server, worker.start()], log)
        members, officers, auditor, admin = sign_in(port, Stats())

        load_before = os.getloadavg()[0]
        workers_before, backends_before = server_pids(server.pid, url)
        cpu_before = cpu_of(workers_before + backends_before)
        # Terminated backends take their CPU time with them: read it just before each blow.
        seen_backends: dict[int, float] = {}

        def sample_backends() -> None:
            seen_backends.update(cpu_of(backends(url)))

        own_before = time.process_time()
        start = time.monotonic()
        outages = Outages(start) if args.chaos else None
        ctx = Ctx(
            port, stats, World(), members, officers, auditor, admin, year, start + args.seconds
        )
        ctx.outages = outages
        chaos = None
        if outages is not None and redis is not None:
            ctx.export_every = 10.0
            worker.supervise()
            chaos = Chaos(
                outages,
                ctx.end,
                args.chaos_every,
                worker,
                redis,
                make_url_database(url),
                ctx.statement_requested,
                ctx.export_now,
                sample_backends,
            )
        drivers = [Driver(ctx, args.seed + i) for i in range(args.clients)]
        threads = [threading.Thread(target=d.loop, daemon=True) for d in drivers]
        audit_driver = Driver(ctx, args.seed - 1, as_user=auditor)
        threads.append(threading.Thread(target=audit_driver.auditor_loop, daemon=True))
        print(
            f"Load: {args.seconds:.0f} s, {args.clients} clients + the auditor, gunicorn "
            f"--workers {workers} (2 × {cores} cores), PostgreSQL, Redis"
            + (
                f"; chaos every {args.chaos_every:.0f} s (worker, Redis, database in turn), "
                f"private redis-server on {redis.url}, EXPORT_LEASE_SECONDS={args.lease}"
                if chaos is not None and redis is not None
                else ""
            ),
            flush=True,
        )
        if chaos is not None:
            chaos.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(0.0, ctx.end - time.monotonic()) + 240)
        if chaos is not None:
            chaos.join(timeout=60)
        elapsed = time.monotonic() - start
        own_cpu = time.process_time() - own_before
        load_after = os.getloadavg()[0]
        workers_after, backends_after = server_pids(server.pid, url)
        cpu_after = cpu_of(workers_after + backends_after)
        seen_backends.update({p: cpu_after[p] for p in backends_after if p in cpu_after})

        def used(pids: list[int]) -> float:
            return sum(cpu_after[p] - cpu_before.get(p, 0.0) for p in pids if p in cpu_after)

        pg_cpu = sum(c - cpu_before.get(p, 0.0) for p, c in seen_backends.items())

        if any(t.is_alive() for t in threads):
            stats.error("load generator", "a client thread was still running 240 s after the end")

        total = report(stats, elapsed)
        per = 1000 / max(total, 1)
        print(
            f"CPU per request: gunicorn workers {used(workers_after) * per:.1f} ms, PostgreSQL "
            f"{pg_cpu * per:.1f} ms, load generator {own_cpu * per:.1f} ms; "
            f"load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at the end "
            f"({cores} cores)"
        )
        if sorted(workers_after) != sorted(workers_before):
            stats.error("gunicorn", f"workers restarted: {workers_before} → {workers_after}")
        settle_start = time.monotonic()
        counts = wait_exports(url, args.lease + 60 if args.chaos else SETTLE_WAIT)
        settled = time.monotonic() - settle_start
        checks, facts = check_invariants(url)
        stuck = keys_in_progress(url)
        checks.append(
            (
                f"no Idempotency-Key left in progress after the load ({len(stuck)} left)",
                not stuck,
                "; ".join(
                    f"{m} {p} key {k} of {e}, claimed {c:%H:%M:%S}" for m, p, k, c, e in stuck[:5]
                ),
            )
        )
        if args.chaos:
            checks.append(
                (
                    f"every statement requested finished, none queued, running or failed "
                    f"({counts.get('finished', 0)} of {len(ctx.export_ids)} requested; "
                    f"{settled:.0f} s after the load, bound {args.lease + 60} s)",
                    bool(ctx.export_ids) and counts == {"finished": len(ctx.export_ids)},
                    str(counts),
                )
            )
        ok, verdict = audit_verify(env)
        checks.append((f"flask --app wsgi audit verify: {verdict}", ok, verdict))
        states = ", ".join(f"{s} {n}" for s, n in sorted(facts["states"].items()))
        print(f"grants: {sum(facts['states'].values()):,} ({states})")
        print(
            f"money: {money(facts['approved_live'])} EUR approved on live grants, "
            f"{money(facts['paid'])} paid, {money(facts['recovered'])} recovered; "
            f"payouts: " + ", ".join(f"{k} {n}" for k, n in facts["payouts"].items())
        )
        print(f"statements requested by the auditor: {len(ctx.export_ids)}")
        print("invariants (in the database):")
        for name, passed, detail in checks:
            print(f"  {'PASS' if passed else 'FAIL'}  {name}" + ("" if passed else f": {detail}"))
        errors = sum(stats.errors.values())
        chaos_ok = True
        if chaos is not None and outages is not None:
            print_windows(outages)
            answers = sum(stats.unavailable.values())
            print(
                f"503 with Retry-After inside the windows: {answers:,} "
                + "("
                + ", ".join(f"{k} {n}" for k, n in stats.unavailable.most_common())
                + "); each retried after min(Retry-After, 2 s)"
            )
            exits = ", ".join(f"exit {c}: {n}" for c, n in sorted(worker.exits.items()))
            print(f"worker exits by itself (restarted by the supervisor): {exits or 'none'}")
            down = count_lines(log, "dependency down")
            found = count_lines(worker_log, "Traceback", "failed (retrying", "dispatcher: queued")
            print(
                f"gunicorn log: {down['dependency down']} 'dependency down' warnings; worker log: "
                f"{found['Traceback']} tracebacks, {found['failed (retrying']} job failures, "
                f"{found['dispatcher: queued']} sweeps that re-queued"
            )
            blows = ", ".join(f"{k} {chaos.counts[k]}" for k in ("worker", "redis", "database"))
            chaos_ok = not chaos.failures and all(
                chaos.counts[k] for k in ("worker", "redis", "database")
            )
            print(f"blows: {blows}" + (f"; FAILED: {chaos.failures}" if chaos.failures else ""))
        if stats.details:
            print("\nfirst errors:")
            for text in stats.details[:20]:
                print("  " + text)
        findings = log_findings(log)
        for finding in findings:
            print(f"\nfrom {log}:\n{finding}")
        invariants_ok = all(passed for _, passed, _ in checks)
        print()
        print(f"{'PASS' if errors == 0 else 'FAIL'}  0 errors ({errors:,} of {total:,} requests)")
        print(f"{'PASS' if invariants_ok else 'FAIL'}  invariants intact")
        if chaos is not None:
            print(f"{'PASS' if chaos_ok else 'FAIL'}  every kind of outage happened at least once")
        passed = errors == 0 and invariants_ok and chaos_ok
        if passed:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"logs kept in {folder}")
        return 0 if passed else 1
    finally:
        stop(server)
        worker.stop()
        drop()
        if redis is not None:
            redis.kill()  # this run's own Redis: the queue goes with it
        else:
            drop_queue(queue)
