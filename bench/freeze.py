#!/usr/bin/env python
"""Declaring a crisis over 100,000 scheduled posts: the API call end to end vs a bare UPDATE.

In a throwaway PostgreSQL database (created here, dropped at the end) holding 100,000 scheduled
posts, this times, alternately and after resetting the rows each time:
  - baseline: a bare SQL `UPDATE posts_post SET status='frozen' WHERE status='scheduled'` in its
    own transaction (the ratio's denominator), and, for information, the same UPDATE also setting
    frozen_by_id (the columns the freeze really writes: one more index, a deferred FK check);
  - API: `POST /api/v1/crises/` through Django's test client with a dco token — authentication,
    validation, the gate lock, the closure, the one-statement freeze, the crisis row, the audit
    entries, the notification outbox row, the commit.
It prints the median of each and their ratio (target: API <= 1.5 x baseline).

    .venv/bin/python bench/freeze.py [--posts 100000] [--rounds 5]

Uses DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/) and REDIS_URL
(default redis://127.0.0.1:6379/0) as the broker for the after-commit notification task; the
messages it queues are removed at the end.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crisiscomm")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
BENCH_DB = f"cc_bench_freeze_{os.getpid()}"
TARGET = 1.5


def server_dsn(dbname):
    parsed = urlparse(BASE_URL)
    return urlunparse(parsed._replace(path=f"/{dbname}"))


def admin_execute(sql):
    import psycopg

    with psycopg.connect(server_dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    admin_execute(f'CREATE DATABASE "{BENCH_DB}"')
    try:
        return run(args)
    finally:
        from django.db import connections

        connections.close_all()
        admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def run(args):
    os.environ["DATABASE_URL"] = server_dsn(BENCH_DB)
    os.environ["REDIS_URL"] = REDIS_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crisiscomm.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection, transaction
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    from apps.crises.models import Crisis
    from apps.posts.models import GateClosure, SocialAccount

    call_command("migrate", verbosity=0)
    dco = User.objects.create_user("bench-dco", "dco@bench.example", "x", is_active=True)
    dco.groups.add(Group.objects.get_or_create(name="dco")[0])
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=dco)[1]}")
    accounts = [
        SocialAccount.objects.create(
            network="linkedin",
            handle=f"@bench{i}",
            connector="webhook",
            config={"url": "http://127.0.0.1:9", "secret": "s"},
        )
        for i in range(20)
    ]
    ids = [a.pk for a in accounts]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO posts_post (account_id, body, scheduled_at, status, exempt, awaiting_approval,
                idempotency_key, attempts, last_error, external_id, external_url, created_at, updated_at)
            SELECT (%s::bigint[])[1 + g %% %s], 'Bench post number ' || g,
                now() + (g || ' minutes')::interval, 'scheduled', false, false,
                gen_random_uuid(), 0, '', '', '', now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [ids, len(ids), args.posts],
        )
    # A closure row for the baseline to point frozen_by at (already opened: the gate stays open).
    spare = GateClosure.objects.create(
        reason="bench baseline", closed_at=django.utils.timezone.now(), is_current=None
    )

    def reset():
        Crisis.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute("UPDATE posts_post SET status = 'scheduled', frozen_by_id = NULL")
        GateClosure.objects.exclude(pk=spare.pk).delete()
        connection.set_autocommit(True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE posts_post")
            cursor.execute("CHECKPOINT")

    def bare_update(with_link):
        sql = "UPDATE posts_post SET status = 'frozen' WHERE status = 'scheduled'"
        params = []
        if with_link:
            sql = (
                "UPDATE posts_post SET status = 'frozen', frozen_by_id = %s "
                "WHERE status = 'scheduled' AND NOT exempt"
            )
            params = [spare.pk]
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.rowcount
        elapsed = time.perf_counter() - started
        assert rows == args.posts, rows
        return elapsed

    def api_declare():
        payload = {"title": "Bench crisis", "summary": "bench", "severity": 2, "topics": ["bench"]}
        started = time.perf_counter()
        response = client.post("/api/v1/crises/", payload, format="json", secure=True)
        elapsed = time.perf_counter() - started
        assert response.status_code == 201, response.content
        assert response.json()["frozen_posts"] == args.posts
        return elapsed

    before = _queue_snapshot()
    bare, linked, api = [], [], []
    reset()
    api_declare()  # warm-up (imports, first-request caches), not counted
    for _round in range(args.rounds):
        reset()
        bare.append(bare_update(with_link=False))
        reset()
        linked.append(bare_update(with_link=True))
        reset()
        api.append(api_declare())
    _queue_cleanup(before)

    b, lk, a = statistics.median(bare), statistics.median(linked), statistics.median(api)

    def runs(values):
        return ", ".join(f"{x:.3f}" for x in values)

    print(f"posts frozen: {args.posts:,}   rounds: {args.rounds} (medians; each run on freshly reset rows)")
    print(f"baseline  bare UPDATE status only:          {b:.3f} s   [{runs(bare)}]")
    print(f"          bare UPDATE status + frozen_by:   {lk:.3f} s   [{runs(linked)}]")
    print(f"measured  POST /api/v1/crises/ end to end:  {a:.3f} s   [{runs(api)}]")
    print(f"ratio API / bare UPDATE (status only):  {a / b:.2f}   (target <= {TARGET})")
    print(f"ratio API / bare UPDATE (same columns): {a / lk:.2f}")
    return 0 if a / b <= TARGET else 1


def _redis():
    import redis

    return redis.Redis.from_url(REDIS_URL)


def _queue_snapshot():
    try:
        return set(_redis().lrange("celery", 0, -1))
    except Exception:
        return None


def _queue_cleanup(before):
    """Remove the notification tasks this run queued (their rows die with the bench database)."""
    if before is None:
        return
    try:
        r = _redis()
        for item in set(r.lrange("celery", 0, -1)) - before:
            try:
                task = json.loads(item).get("headers", {}).get("task", "")
            except ValueError:
                continue
            if task.startswith("apps.notifications."):
                r.lrem("celery", 1, item)
    except Exception as exc:
        print(f"(could not clean the broker queue: {exc})")


if __name__ == "__main__":
    sys.exit(main())
