#!/usr/bin/env python
"""Declaring a crisis at 1,000, 100,000 and 1,000,000 scheduled posts: the API call end to end
beside a bare UPDATE of the same rows.

The freeze is logical (closing the gate writes no post), so the declaration should cost the same
whatever the size of the calendar: the run ends with `scale ratio 1M/1k: <number>` (target
<= 2) and checks the declaration at 100k against 0.1 x the bare UPDATE.

In a throwaway database (created here, dropped at the end), for each scale:
  - the calendar is grown to that many scheduled posts with one INSERT … SELECT generate_series
    (server-side, no round trip per row);
  - baseline: `UPDATE posts_post SET status = 'scheduled', updated_at = now() WHERE status =
    'scheduled'` — every row rewritten, what a freeze that writes posts costs — committed, then
    VACUUM so that the next run meets fresh rows again;
  - measured: `POST /api/v1/crises/` through Django's test client as a dco (authentication,
    validation, the gate lock, the closure, the crisis, the audit entries, the notification
    outbox row, the commit); the crisis is then ended directly (rows kept: evidence is never
    deleted) and the table vacuumed.
Median of `--rounds` each (default 5; the bare UPDATE at 1M defaults to 3 rounds, `--full` for 5).

    .venv/bin/python bench/freeze.py [--scales 1000,100000,1000000] [--rounds 5] [--full]

The server: DATABASE_URL's, or (unset) the embedded PostgreSQL under var/ (started if needed).
The broker: none is touched — the notification task of each declaration goes to a filesystem
broker in a temporary directory, dropped at the end.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCALE_TARGET = 2.0
UPDATE_FRACTION_TARGET = 0.1


def admin_url() -> str:
    """A URL of the server's `postgres` database: DATABASE_URL's server, or the embedded one."""
    base = os.environ.get("DATABASE_URL", "")
    if base:
        return urlunparse(urlparse(base)._replace(path="/postgres"))
    from crisiscomm.embedded_db import database_settings, database_url

    return database_url(database_settings(ROOT / "var", name="postgres"))


def admin_sql(url, sql):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="5 bare UPDATE rounds at 1M too")
    parser.add_argument("--queries", action="store_true", help="print the slowest declaration's queries")
    args = parser.parse_args()
    scales = sorted(int(s) for s in args.scales.split(","))

    admin = admin_url()
    name = f"cc_bench_freeze_{os.getpid()}"
    bench_url = admin.rsplit("/", 1)[0] + "/" + name
    admin_sql(admin, f'CREATE DATABASE "{name}"')
    broker_dir = tempfile.mkdtemp(prefix="cc-bench-freeze-")
    try:
        return run(args, scales, bench_url, broker_dir)
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        admin_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(broker_dir, ignore_errors=True)


def run(args, scales, bench_url, broker_dir):
    os.environ["DATABASE_URL"] = bench_url
    os.environ["REDIS_URL"] = ""  # a filesystem broker in broker_dir: nothing reaches a real one
    os.environ["CRISISCOMM_VAR_DIR"] = broker_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crisiscomm.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from rest_framework.test import APIClient

    from apps.crises.models import Crisis
    from apps.posts.models import GateClosure, SocialAccount

    call_command("migrate", verbosity=0)
    dco = User.objects.create_user("bench-dco", "dco@bench.example", "x", is_active=True)
    dco.groups.add(Group.objects.get_or_create(name="dco")[0])
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.force_authenticate(dco)
    accounts = [
        SocialAccount.objects.create(
            network="linkedin",
            handle=f"@bench{i}",
            connector="webhook",
            config={"url": "https://bench.example/hook", "secret": "s"},
        )
        for i in range(20)
    ]
    ids = [a.pk for a in accounts]

    def grow_to(total):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM posts_post")
            have = cursor.fetchone()[0]
            started = time.perf_counter()
            cursor.execute(
                """
                INSERT INTO posts_post (account_id, body, scheduled_at, status, exempt, awaiting_approval,
                    idempotency_key, attempts, last_error, external_id, external_url, created_at,
                    updated_at)
                SELECT (%s::bigint[])[1 + g %% %s], 'Bench post number ' || g,
                    now() + (g || ' seconds')::interval, 'scheduled', false, false,
                    gen_random_uuid(), 0, '', '', '', now(), now()
                FROM generate_series(%s, %s) AS g
                """,
                [ids, len(ids), have + 1, total],
            )
            elapsed = time.perf_counter() - started
        vacuum()
        return elapsed

    def vacuum():
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE posts_post")
            cursor.execute("CHECKPOINT")

    def bare_update(total):
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE posts_post SET status = 'scheduled', updated_at = now() WHERE status = 'scheduled'"
            )
            rows = cursor.rowcount
        elapsed = time.perf_counter() - started
        assert rows == total, rows
        vacuum()
        return elapsed

    def end_directly():
        Crisis.objects.filter(is_open=True).update(is_open=None, status="closed", closed_at=timezone.now())
        GateClosure.objects.filter(is_current=True).update(is_current=None, opened_at=timezone.now())

    slowest = {"elapsed": 0, "queries": []}

    def api_declare():
        from django.test.utils import CaptureQueriesContext

        payload = {"title": "Bench crisis", "summary": "bench", "severity": 2, "topics": ["bench"]}
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.post("/api/v1/crises/", payload, format="json", secure=True)
            elapsed = time.perf_counter() - started
        if elapsed > slowest["elapsed"]:
            slowest.update(elapsed=elapsed, queries=list(captured.captured_queries))
        assert response.status_code == 201, response.content
        end_directly()
        vacuum()
        return elapsed

    def runs(values):
        return ", ".join(f"{x * 1000:.1f}" for x in values)

    load = os.getloadavg()
    print(f"freeze bench: rounds {args.rounds} (medians, ms); machine load {load[0]:.2f} {load[1]:.2f}")
    grow_to(scales[0])
    api_declare()  # warm-up (imports, first-request caches), not counted
    results = {}
    for total in scales:
        grown = grow_to(total)
        declare = [api_declare() for _ in range(args.rounds)]
        update_rounds = args.rounds if (total < 1_000_000 or args.full) else min(args.rounds, 3)
        update = [bare_update(total) for _ in range(update_rounds)]
        d, u = statistics.median(declare), statistics.median(update)
        results[total] = (d, u)
        if args.queries:
            top = sorted(slowest["queries"], key=lambda q: -float(q["time"]))[:5]
            print(
                f"  slowest declaration {slowest['elapsed'] * 1000:.1f} ms,"
                f" {len(slowest['queries'])} queries:"
            )
            for q in top:
                print(f"    {float(q['time']) * 1000:8.1f} ms  {q['sql'][:160]}")
            slowest.update(elapsed=0, queries=[])
        print(
            f"{total:>9,} posts (grown in {grown:.1f} s): declaration {d * 1000:8.1f} ms [{runs(declare)}]"
            f"   bare UPDATE {u * 1000:9.1f} ms [{runs(update)}]   declaration/UPDATE {d / u:.4f}"
        )
    ok = True
    if 100_000 in results:
        d, u = results[100_000]
        fraction = d / u
        ok &= fraction <= UPDATE_FRACTION_TARGET
        print(
            f"declaration at 100k / bare UPDATE at 100k: {fraction:.4f} (target <= {UPDATE_FRACTION_TARGET})"
        )
    if 1_000 in results and 1_000_000 in results:
        ratio = results[1_000_000][0] / results[1_000][0]
        ok &= ratio <= SCALE_TARGET
        print(f"scale ratio 1M/1k: {ratio:.2f}")
    elif len(results) > 1:
        small, large = min(results), max(results)
        print(f"scale ratio {large:,}/{small:,}: {results[large][0] / results[small][0]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
