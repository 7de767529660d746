"""Reading a staff directory export (CSV) into rows for staff_import: the shared CSV reader
(apps.core.csv_import), under the names the accounts callers use."""

from apps.core.csv_import import detect_delimiter, read_csv

read_staff_csv = read_csv

__all__ = ["detect_delimiter", "read_staff_csv"]
