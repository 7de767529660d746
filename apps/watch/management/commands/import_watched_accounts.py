import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.watch.accounts_csv import read_accounts_csv
from apps.watch.services import WatchImportError, watched_accounts_import


class Command(BaseCommand):
    help = (
        "Import or update the professional accounts to watch from a CSV file (columns: network, kind, "
        "url, owners as staff e-mails separated by ';' or '|', department, active). All or nothing: "
        "every bad line is reported with its number and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, UTF-8 (a BOM is accepted); '-' for stdin")
        parser.add_argument("--dry-run", action="store_true", help="check the file, report, write nothing")
        parser.add_argument("--delimiter", help="cell separator (default: detected from the header)")
        parser.add_argument("--actor", help="a DCO's username recorded in the audit trail (default: system)")

    def handle(self, *args, **options):
        actor = None
        if options["actor"]:
            actor = get_user_model().objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CommandError(f"no user named {options['actor']!r}")
        path = options["file"]
        try:
            if path == "-":
                columns, rows = read_accounts_csv(sys.stdin, delimiter=options["delimiter"])
            else:
                with open(path, encoding="utf-8-sig", newline="") as stream:
                    columns, rows = read_accounts_csv(stream, delimiter=options["delimiter"])
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        try:
            with transaction.atomic():
                result = watched_accounts_import(actor=actor, rows=rows, columns=columns, source=str(path))
                transaction.set_rollback(options["dry_run"])
        except WatchImportError as exc:
            for line, message in exc.errors:
                self.stderr.write(f"line {line}: {message}")
            raise CommandError(f"{len(exc.errors)} bad line(s); nothing imported") from exc
        prefix = "dry run: would have " if options["dry_run"] else ""
        counts = f"created {result['created']}, updated {result['updated']}, unchanged {result['unchanged']}"
        self.stdout.write(prefix + counts)
