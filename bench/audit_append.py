#!/usr/bin/env python
"""Audit trail append throughput on PostgreSQL: what the hash chain costs every state change.

Measured, in a throwaway database this script creates and drops:
- chained: one transaction per entry through audit_record (lock the chain head, hash, insert,
  move the head), from 1 writer and from 4 concurrent writers (own connections);
- baseline: the same rows inserted one transaction each into an unchained copy of the table
  (no head lock, no hash), from the same writers.
Ratio: chained entries/s over baseline entries/s (1.0 = free). Then verify_audit over the chain.

    .venv/bin/python bench/audit_append.py [--entries 2000] [--writers 4]
Uses DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/postgres).
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _throwaway import admin_sql, throwaway_url  # noqa: E402


def run_writers(writers, per_writer, work):
    barrier = threading.Barrier(writers)
    errors = []

    def body():
        from django.db import connections

        try:
            barrier.wait()
            for i in range(per_writer):
                work(i)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body) for _ in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()

    url, admin_url, name = throwaway_url("audit", "audit_append")
    admin_sql(admin_url, f'CREATE DATABASE "{name}"')
    try:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crisiscomm.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, connections, transaction

        call_command("migrate", verbosity=0)
        from apps.audit.selectors import audit_chain_verify
        from apps.audit.services import audit_record

        with connection.cursor() as c:
            c.execute("CREATE TABLE bench_plain (LIKE audit_auditentry INCLUDING DEFAULTS)")
            c.execute("CREATE SEQUENCE bench_plain_seq")
        connections.close_all()

        details = {"post": 1, "title": "Lancement", "topics": ["launch", "payload"]}
        # The registry refuses unknown actions: the bench's own, registered for this process only.
        from apps.audit.actions import ACTIONS

        ACTIONS["bench.append"] = frozenset(details)

        def chained(i):
            with transaction.atomic():
                audit_record(
                    actor=None, action="bench.append", object_type="thing", object_id=i, details=details
                )

        def plain(i):
            with transaction.atomic(), connection.cursor() as c:
                c.execute(
                    "INSERT INTO bench_plain (id, sequence, created_at, actor_repr, action, object_type,"
                    " object_id, details, prev_hash, hash, key_id) VALUES (nextval('bench_plain_seq'),"
                    " currval('bench_plain_seq'), now(), 'system', 'bench.append', 'thing', %s,"
                    " %s::jsonb, '', '', '')",
                    [str(i), '{"post": 1}'],
                )

        n = args.entries
        rows = []
        for writers in (1, args.writers):
            per = n // writers
            base_s = run_writers(writers, per, plain)
            chain_s = run_writers(writers, per, chained)
            base_rate, chain_rate = per * writers / base_s, per * writers / chain_s
            rows.append((writers, chain_rate, base_rate))
            print(
                f"{writers} writer(s): chained {chain_rate:8.0f} entries/s   baseline {base_rate:8.0f} rows/s"
                f"   ratio {chain_rate / base_rate:.2f}"
            )
        started = time.perf_counter()
        report = audit_chain_verify()
        verify_s = time.perf_counter() - started
        print(
            f"verify_audit: valid={report.valid} over {report.entries} entries in {verify_s:.2f} s "
            f"({report.entries / verify_s:,.0f} entries/s)"
        )
        assert report.valid
        connections.close_all()
    finally:
        admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
