"""What every CSV import shares (the staff directory, the watched accounts): reading a file into
numbered rows, refusing a whole file with every bad line named, and the management command.

An import service validates every row first and raises `CsvImportError` with each bad
(line, message); nothing is written unless the whole file is good. Line numbers are the file's
own, so that a person fixing the file goes straight to the line.
"""

import csv
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from .errors import NotAllowedError, ServiceError

DELIMITERS = (",", ";", "\t")


@dataclass
class CsvRow:
    """One data row: its first physical line number in the file and its cells by column."""

    line: int
    values: Mapping[str | None, str | None]


class CsvImportError(ServiceError):
    """The file has bad rows; nothing was imported. `errors` lists (line, message), every one."""

    def __init__(self, errors: list[tuple[int, str]], *, field="rows", code="bad_rows"):
        self.errors = errors
        super().__init__(self.describe(len(errors), *errors[0]), field=field, code=code)

    def describe(self, count: int, line: int, message: str) -> str:
        """The one-line summary (a subclass names its file in its own translatable words)."""
        return _("%(count)d bad line(s) in the file; nothing was imported. Line %(line)d: %(msg)s") % {
            "count": count,
            "line": line,
            "msg": message,
        }


def detect_delimiter(header_line: str) -> str:
    """The header names columns only, so its most frequent separator is the file's: French
    spreadsheet exports use ';' (a cell listing several values may then use '|', or quotes)."""
    return max(DELIMITERS, key=header_line.count) if header_line.strip() else ","


def read_csv(lines: Iterable[str], delimiter: str | None = None) -> tuple[list[str], list[CsvRow]]:
    """→ (columns lower-cased, rows), each row numbered with its first physical line in the file.
    A byte-order mark before the header is dropped. A short row gives None for its missing
    cells, a long one its extra cells under the key None (csv.DictReader): the service names both."""
    lines = iter(lines)
    first = next(lines, "").lstrip("\ufeff")
    if delimiter is None:
        delimiter = detect_delimiter(first)

    def chained():
        yield first
        yield from lines

    reader = csv.DictReader(chained(), delimiter=delimiter)
    columns = [c.strip().lower() for c in (reader.fieldnames or []) if c is not None]
    rows = []
    for values in reader:
        # line_num is the record's last physical line; step back over quoted line breaks.
        embedded = sum(v.count("\n") for v in values.values() if isinstance(v, str))
        rows.append(CsvRow(line=reader.line_num - embedded, values=values))
    return columns, rows


def numbered_rows(rows: Iterable[CsvRow | Mapping]) -> list[CsvRow]:
    """Rows as CsvRow with lower-cased, stripped column names; plain dicts (a caller's own data)
    are numbered as in a file whose line 1 is the header."""
    out = []
    for index, row in enumerate(rows):
        if not isinstance(row, CsvRow):
            row = CsvRow(line=index + 2, values=row)
        out.append(CsvRow(row.line, {(k.strip().lower() if k else k): v for k, v in row.values.items()}))
    return out


class CsvImportCommand(BaseCommand):
    """`manage.py <command> FILE [--dry-run] [--delimiter X] [--actor USERNAME]`.

    A subclass sets `help` and `actor_help` and implements `import_rows`, which calls the import
    service and returns the summary line. A dry run goes all the way (same checks, same counts)
    and then rolls back; bad lines are written to stderr as `FILE:LINE: message`."""

    actor_help = "the user recorded in the audit trail (default: system)"

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, UTF-8 (a BOM is accepted); '-' for stdin")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check the file and report what would change, then write nothing",
        )
        parser.add_argument("--delimiter", help="cell separator (default: detected from the header)")
        parser.add_argument("--actor", help=self.actor_help)

    def import_rows(self, *, actor, columns: list[str], rows: list[CsvRow], source: str, options) -> str:
        raise NotImplementedError

    def handle(self, *args, **options):
        actor = None
        if options["actor"]:
            actor = get_user_model().objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CommandError(f"no user named {options['actor']!r}")
        path = options["file"]
        try:
            if path == "-":
                columns, rows = read_csv(sys.stdin, delimiter=options["delimiter"])
            else:
                with open(path, encoding="utf-8-sig", newline="") as stream:
                    columns, rows = read_csv(stream, delimiter=options["delimiter"])
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        try:
            with transaction.atomic():
                summary = self.import_rows(
                    actor=actor, columns=columns, rows=rows, source=str(path)[-200:], options=options
                )
                transaction.set_rollback(options["dry_run"])
        except NotAllowedError as exc:
            raise CommandError(exc.message) from exc
        except CsvImportError as exc:
            for line, message in exc.errors:
                self.stderr.write(f"{path}:{line}: {message}")
            raise CommandError(f"{len(exc.errors)} bad line(s) in {path}; nothing was imported.") from exc
        if options["dry_run"]:
            self.stdout.write("Dry run, nothing written. Would have:")
        self.stdout.write(self.style.SUCCESS(summary))
