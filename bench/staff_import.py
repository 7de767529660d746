#!/usr/bin/env python
"""Staff directory import at the design's upper scale: 35,000 staff (a national research centre).

Measured, on PostgreSQL, in a throwaway database this script creates and drops:
- first import of N staff (users, profiles, roles, one audit entry each + a summary);
- the same file again (nothing changes: the nightly re-run);
- the file with 5% of people changed (department, roles).
Baseline, in the same run on the same server: a row-by-row import (get_or_create, profile,
groups.set, audit_record per person) of a sample, as rows per second. The ratio is
service rows/s over baseline rows/s.

    .venv/bin/python bench/staff_import.py [--staff 35000] [--baseline-sample 2000]
Uses DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/postgres).
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _throwaway import admin_sql, throwaway_url  # noqa: E402

ROLES_CYCLE = ["employee", "employee", "employee;expert", "employee", "employee|spokesperson", "auditor"]
DEPARTMENTS = ["Launchers", "Earth observation", "Space science", "Ground segment", "Communication"]


def rows(n, *, prefix="staff", changed_every=0):
    out = []
    for i in range(n):
        changed = changed_every and i % changed_every == 0
        out.append(
            {
                "email": f"{prefix}{i}@agency.example",
                "name": f"Person{i} Surname{i % 977}",
                "department": "Reorganised" if changed else DEPARTMENTS[i % len(DEPARTMENTS)],
                "language": "en" if i % 7 == 0 else "fr",
                "roles": "employee;expert" if changed else ROLES_CYCLE[i % len(ROLES_CYCLE)],
            }
        )
    return out


def naive_import(data):
    """The obvious row-by-row way, for comparison."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import transaction

    from apps.accounts.models import StaffProfile
    from apps.audit.services import audit_record

    User = get_user_model()
    groups = {g.name: g for g in Group.objects.all()}
    with transaction.atomic():
        for row in data:
            first, _sep, last = row["name"].partition(" ")
            user, _created = User.objects.get_or_create(
                username=row["email"],
                defaults={"email": row["email"], "first_name": first, "last_name": last},
            )
            StaffProfile.objects.update_or_create(
                user=user, defaults={"department": row["department"], "language": row["language"]}
            )
            names = [r for r in row["roles"].replace("|", ";").split(";") if r]
            user.groups.set([groups[r] for r in names])
            # The registered keys of account.create (apps/audit/actions.py): the row minus its name.
            details = {k: v for k, v in row.items() if k != "name"}
            audit_record(actor=None, action="account.create", obj=user, details=details)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--staff", type=int, default=35000)
    parser.add_argument("--baseline-sample", type=int, default=2000)
    args = parser.parse_args()

    url, admin_url, name = throwaway_url("staff", "staff_import")
    admin_sql(admin_url, f'CREATE DATABASE "{name}"')
    try:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crisiscomm.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from apps.accounts.services import staff_import
        from apps.audit.selectors import audit_chain_verify

        n = args.staff
        timings = {}
        for label, data in [
            ("first import", rows(n)),
            ("same file again", rows(n)),
            ("5% changed", rows(n, changed_every=20)),
        ]:
            started = time.perf_counter()
            result = staff_import(actor=None, rows=data, source="bench")
            timings[label] = time.perf_counter() - started
            print(
                f"{label:<16} {n:>6} rows {timings[label]:7.2f} s  {n / timings[label]:8.0f} rows/s  "
                f"created={result.created} updated={result.updated} unchanged={result.unchanged}"
            )

        sample = rows(args.baseline_sample, prefix="naive")
        started = time.perf_counter()
        naive_import(sample)
        naive_s = time.perf_counter() - started
        naive_rate = len(sample) / naive_s
        print(f"baseline row-by-row {len(sample):>6} rows {naive_s:7.2f} s  {naive_rate:8.0f} rows/s")
        rate = n / timings["first import"]
        print(f"ratio first import / baseline: {rate / naive_rate:.1f}x faster")
        report = audit_chain_verify()
        print(f"audit chain after the runs: valid={report.valid} entries={report.entries}")
        assert report.valid
        from django.db import connections

        connections.close_all()
    finally:
        admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
