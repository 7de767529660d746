"""Reading a CSV list of professional accounts into rows for services.watched_accounts_import."""

import csv
from collections.abc import Iterable

from apps.accounts.staff_csv import detect_delimiter

from .services import AccountRow


def read_accounts_csv(
    lines: Iterable[str], delimiter: str | None = None
) -> tuple[list[str], list[AccountRow]]:
    """→ (columns, rows), each row numbered with its first physical line in the file."""
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
        embedded = sum(str(v).count("\n") for v in values.values() if isinstance(v, str))
        rows.append(AccountRow(line=reader.line_num - embedded, values=values))
    return columns, rows
