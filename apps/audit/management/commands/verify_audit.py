import json

from django.core.management.base import BaseCommand

from apps.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit hash chain; print {valid, entries, first_broken}; exit 1 if broken."

    def handle(self, *args, **options):
        report = audit_chain_verify()
        self.stdout.write(json.dumps(report.as_dict()))
        if not report.valid:
            self.stderr.write(f"audit chain broken at entry #{report.first_broken}")
            raise SystemExit(1)
