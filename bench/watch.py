#!/usr/bin/env python
"""The watch's sweep at scale: 1,000 watched accounts (Mastodon, Bluesky, feeds) on a loopback
fake network that answers every request after 100 ms. Target: one sweep within 30 s.

Measured, in a throwaway database this script creates and drops (on DATABASE_URL's server, or on
the embedded PostgreSQL server of crisiscomm.embedded_db when DATABASE_URL is unset):
- the first sweep of a crisis (Mastodon accounts are looked up once: two requests each), on a
  bad day: three accounts in ten have posted during the freeze (300 sightings, each with its
  pre-check, audit entries and the DCO's notice);
- a second sweep (steady state: since_id, cursors, conditional GETs; nothing new).
Baseline, in the same run: the same reader reading a sample of accounts one after the other (no
concurrency), extrapolated to all accounts. The ratio is baseline time over sweep time.

    .venv/bin/python bench/watch.py [--accounts 1000] [--latency 0.1] [--concurrency N]
"""

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.watch.fakes import FakeNetworks  # noqa: E402

TARGET_SECONDS = 30.0


def throwaway_database():
    """(DATABASE_URL of a fresh database, a function that drops it)."""
    if os.environ.get("DATABASE_URL"):
        from _throwaway import admin_sql, throwaway_url

        url, admin_url, name = throwaway_url("watch", "watch")
        admin_sql(admin_url, f'CREATE DATABASE "{name}"')
        return url, lambda: admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    import psycopg

    from crisiscomm.embedded_db import database_settings, database_url

    var_dir = Path(os.environ.get("CRISISCOMM_VAR_DIR", ROOT / "var"))
    name = f"cc_bench_watch_{os.getpid()}"
    db = database_settings(var_dir, name=name)

    def drop():
        with psycopg.connect(host=db["HOST"], user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return database_url(db), drop


def build_world(fake, n, declared_at):
    """n accounts (40% Mastodon, 30% Bluesky, 30% feeds), each with two posts before the
    declaration; one Mastodon, one Bluesky and one feed account in every ten post during the
    freeze. → (rows for the import service, the number of sightings expected)."""
    before = declared_at - timedelta(hours=3)
    during = declared_at + timedelta(minutes=5)
    rows = []
    for i in range(n):
        kind = (
            "mastodon",
            "mastodon",
            "mastodon",
            "mastodon",
            "bluesky",
            "bluesky",
            "bluesky",
            "feed",
            "feed",
            "feed",
        )[i % 10]
        if kind == "mastodon":
            url = fake.mastodon_account(f"lab{i}")
            for k in range(2):
                fake.toot(f"lab{i}", f"lab {i} before {k}", before + timedelta(minutes=k))
            if i % 10 == 0:
                fake.toot(f"lab{i}", f"lab {i} during the freeze", during)
        elif kind == "bluesky":
            handle = f"lab{i}.bsky.social"
            url = fake.bluesky_account(handle)
            for k in range(2):
                fake.skeet(handle, f"lab {i} before {k}", before + timedelta(minutes=k))
            if i % 10 == 4:
                fake.skeet(handle, f"lab {i} during the freeze", during)
        else:
            url = fake.feed(f"lab{i}")
            for k in range(2):
                fake.feed_entry(f"lab{i}", f"lab {i} before {k}", before + timedelta(minutes=k))
            if i % 10 == 7:
                fake.feed_entry(f"lab{i}", f"lab {i} during the freeze", during)
        network = {"feed": "blog"}.get(kind, kind)
        rows.append({"network": network, "kind": kind, "url": url, "department": f"Dept {i % 12}"})
    expected = sum(1 for i in range(n) if i % 10 in (0, 4, 7))
    return rows, expected


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds before each answer")
    parser.add_argument("--concurrency", type=int, default=None, help="default: CRISISCOMM_WATCH_CONCURRENCY")
    parser.add_argument("--baseline-sample", type=int, default=40)
    parser.add_argument("--profile", action="store_true", help="print where the first sweep spends its time")
    args = parser.parse_args()

    fake = FakeNetworks(latency=args.latency).start()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="crisiscomm.settings",
        CRISISCOMM_OUTBOUND_ALLOW="127.0.0.1",
        CRISISCOMM_BLUESKY_APPVIEW=fake.base,
        # One fake host stands for the many instances of real life: pace it, but not at one
        # real instance's rate.
        CRISISCOMM_WATCH_HOST_RATES=f"127.0.0.1:{fake.port}=1000",
        CRISISCOMM_TASKS_EAGER="0",
    )
    url, drop = throwaway_database()
    os.environ["DATABASE_URL"] = url
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth.models import Group
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        # The notices the sweep records are enqueued after commit: into this process's memory,
        # never onto a real broker where a worker would look for this throwaway database.
        from crisiscomm.celery import app as celery_app

        celery_app.conf.broker_url = celery_app.conf.broker_write_url = celery_app.conf.broker_read_url = (
            "memory://"
        )
        from apps.crises.models import Crisis
        from apps.crises.services import crisis_declare
        from apps.watch import services
        from apps.watch.models import Sighting, WatchedAccount
        from apps.watch.readers import Fetcher, HostLimiter, read_account
        from apps.watch.services import AccountRow, watched_accounts_import
        from tests.factories import UserFactory

        dco = UserFactory(username="bench-dco")
        dco.groups.add(Group.objects.get_or_create(name="dco")[0])
        crisis = crisis_declare(actor=dco, title="Bench crisis", summary="", severity=2)
        # Declared ten minutes ago, so that posts made "during the freeze" are in the past.
        declared_at = crisis.declared_at - timedelta(minutes=10)
        Crisis.objects.filter(pk=crisis.pk).update(declared_at=declared_at)
        rows, expected = build_world(fake, args.accounts, declared_at)
        watched_accounts_import(
            actor=None,
            rows=[AccountRow(line=i + 2, values=r) for i, r in enumerate(rows)],
            columns=["network", "kind", "url", "department"],
        )

        concurrency = args.concurrency or settings.CRISISCOMM_WATCH_CONCURRENCY
        n = WatchedAccount.objects.count()
        latency_ms = args.latency * 1000
        print(f"{n} watched accounts, fake network latency {latency_ms:.0f} ms, concurrency {concurrency}")
        results = {}
        for label in ("first sweep", "second sweep"):
            asked = len(fake.requests)
            started = time.perf_counter()
            if args.profile and label == "first sweep":
                import cProfile
                import pstats

                with cProfile.Profile() as profile:
                    result = services.watch_sweep(concurrency=concurrency, limiter=HostLimiter())
                pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
            else:
                result = services.watch_sweep(concurrency=concurrency, limiter=HostLimiter())
            seconds = time.perf_counter() - started
            results[label] = seconds
            requests = len(fake.requests) - asked
            print(
                f"{label:<13} {seconds:6.2f} s  requests={requests:<5} read={result['read']} "
                f"errors={result['errors']} sightings={result['sightings']} "
                f"concurrency={result['concurrency']} recorders={result['recorders']} "
                f"main-thread recording={result['recording_seconds']:.2f} s"
            )
            assert result["errors"] == 0, result
        assert Sighting.objects.count() == expected, (Sighting.objects.count(), expected)

        # Baseline: the same reads, one after the other, on a sample.
        sample = list(WatchedAccount.objects.order_by("pk")[: args.baseline_sample])
        fetch = Fetcher(HostLimiter())
        started = time.perf_counter()
        for account in sample:
            state = services._state(account)
            state.remote_id = state.cursor = state.etag = state.last_modified = ""
            read_account(state, since=declared_at, fetch=fetch)
        per_account = (time.perf_counter() - started) / len(sample)
        baseline = per_account * n
        print(f"baseline serial reads: {per_account * 1000:.0f} ms per account -> {baseline:.1f} s for {n}")
        print(f"ratio first sweep / baseline: {baseline / results['first sweep']:.1f}x faster")
        worst = max(results.values())
        verdict = "ok" if worst <= TARGET_SECONDS else "TOO SLOW"
        print(f"target: one sweep within {TARGET_SECONDS:.0f} s -> {verdict} ({worst:.2f} s)")
        from django.db import connections

        connections.close_all()
        return 0 if worst <= TARGET_SECONDS else 1
    finally:
        fake.stop()
        drop()


if __name__ == "__main__":
    sys.exit(main())
