"""Load test: the service under gunicorn on PostgreSQL and Redis, driven for five minutes.

1. Creates a fresh PostgreSQL database (``pearl_load_<random>``, dropped at the end) and uses
   Redis with an export queue of its own.
2. Migrates it (``flask --app wsgi db upgrade``) and seeds it through the service functions:
   40 cities with titles valid today (cap 5,000.00 EUR), one member each, 4 finance officers, an
   auditor, an admin, and exchange rates for this month and the next.
3. Starts gunicorn on 127.0.0.1 with the workers the README recommends (2 × cores) and one
   ``flask --app wsgi exports worker``.
4. Drives it for LOAD_SECONDS (default 300) from client threads on http.client connections:
   mostly reads (filtered, paginated lists, grants, histories, cities), and proposals,
   decisions, advances with four eyes, interim and final reports in EUR and DKK (accepted, some
   with an adjustment, some returned first), settlements and closures, a few terminations,
   comments, and the auditor's statements, polled until finished and downloaded.
5. Reports throughput, p50/p95/p99 latency (overall and per kind) and errors: a 5xx, a
   connection error, or an answer that breaks api.md (status, shape, money format, scope, the
   figures the domain defines). 409 refusals such as cap_exceeded, invalid_transition (two
   officers deciding one proposal) or stale are expected outcomes, counted apart.
6. Checks the money invariants in the database, that every export finished, and that
   ``flask --app wsgi audit verify`` exits 0.

    .venv/bin/python -m bench.load                 # 5 minutes
    .venv/bin/python -m bench.load --seconds 30    # a short run
    .venv/bin/python bench/load.py --seconds 30    # the same (the old command)
    .venv/bin/python -m bench.load --seconds 60 --chaos    # with outages (see ``chaos``)

``--chaos`` (module ``chaos``): a private redis-server instead of the shared Redis; every
``--chaos-every`` seconds (9) in turn the export worker is SIGKILLed and restarted, Redis is
killed and restarted 4 s later, the scratch database's backends are terminated. A 503 with
Retry-After is accepted only inside an outage window of the dependency it names (+2 s), and
retried after min(Retry-After, 2 s); afterwards every statement must finish within
``--lease`` (EXPORT_LEASE_SECONDS, 20) + 60 s, and the checks of step 6 must pass.

Needs PostgreSQL (LOAD_DATABASE_URL, default postgresql+psycopg://root@127.0.0.1:5432/test),
Redis (LOAD_REDIS_URL, default redis://127.0.0.1:6379/0) and gunicorn
(``.venv/bin/pip install -e '.[server]'``). All traffic goes to 127.0.0.1.

Targets: 0 errors; invariants intact. Exit status 1 when one fails.

The package, in the order a request goes through it:

- ``config``: where it runs (database, Redis, host), the seed's sizes, rates and time limits;
- ``oracle``: the money figures re-computed independently of the service (see its docstring);
- ``contract``: what api.md promises a client, checked on every answer;
- ``chaos``: the outages of ``--chaos`` and the windows inside which a 503 is honest;
- ``client``: one thread's connection, judging every answer (ok, expected 409, 503, error);
- ``scenario``: what the generator knows of the grants, and the users' actions (the mix);
- ``report``: latencies and counts, and the table printed at the end;
- ``harness``: the database, seed, processes, the run and the checks afterwards (``main``).
"""
