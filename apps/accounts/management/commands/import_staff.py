import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts.services import StaffImportError, staff_import
from apps.accounts.staff_csv import read_staff_csv
from apps.core.errors import NotAllowedError


class Command(BaseCommand):
    help = (
        "Import or update staff from a CSV file (columns: email, name or first_name/last_name, "
        "department, language, roles separated by ';' or '|'). All or nothing: a bad line is "
        "reported with its number and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, UTF-8 (a BOM is accepted); '-' for stdin")
        parser.add_argument(
            "--deactivate-missing",
            action="store_true",
            help="deactivate active users absent from the file (never superusers)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check the file and report what would change, then write nothing",
        )
        parser.add_argument("--delimiter", help="cell separator (default: detected from the header)")
        parser.add_argument(
            "--actor",
            help="the user administrator (admin role or superuser) recorded in the audit trail "
            "(default: system)",
        )

    def handle(self, *args, **options):
        actor = None
        if options["actor"]:
            actor = get_user_model().objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CommandError(f"no user named {options['actor']!r}")
        path = options["file"]
        try:
            if path == "-":
                columns, rows = read_staff_csv(sys.stdin, delimiter=options["delimiter"])
            else:
                with open(path, encoding="utf-8-sig", newline="") as stream:
                    columns, rows = read_staff_csv(stream, delimiter=options["delimiter"])
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        try:
            with transaction.atomic():
                result = staff_import(
                    actor=actor,
                    rows=rows,
                    columns=columns,
                    deactivate_missing=options["deactivate_missing"],
                    source=str(path)[-200:],
                )
                # A dry run goes all the way (same checks, same counts), then rolls back.
                transaction.set_rollback(options["dry_run"])
        except NotAllowedError as exc:
            raise CommandError(exc.message) from exc
        except StaffImportError as exc:
            for line, message in exc.errors:
                self.stderr.write(f"{path}:{line}: {message}")
            raise CommandError(f"{len(exc.errors)} bad line(s) in {path}; nothing was imported.") from exc
        if options["dry_run"]:
            self.stdout.write("Dry run, nothing written. Would have:")
        self.stdout.write(
            self.style.SUCCESS(
                "Imported {rows} row(s): {created} created, {updated} updated, {unchanged} unchanged, "
                "{deactivated} deactivated.".format(**result.as_dict())
            )
        )
