"""Reading a staff directory export (CSV) into rows for services.staff_import."""

import csv
from collections.abc import Iterable

from .staff_import import StaffRow

DELIMITERS = (",", ";", "\t")


def detect_delimiter(header_line: str) -> str:
    """The header names columns only, so its most frequent separator is the file's: French
    spreadsheet exports use ';' (roles may then be separated by '|', or quoted)."""
    return max(DELIMITERS, key=header_line.count) if header_line.strip() else ","


def read_staff_csv(lines: Iterable[str], delimiter: str | None = None) -> tuple[list[str], list[StaffRow]]:
    """→ (columns, rows), each row numbered with its first physical line in the file."""
    lines = iter(lines)
    first = next(lines, "")
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
        embedded = sum(str(v).count("\n") for v in values.values() if v)
        rows.append(StaffRow(line=reader.line_num - embedded, values=values))
    return columns, rows
