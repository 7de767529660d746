from apps.accounts.services import staff_import
from apps.core.csv_import import CsvImportCommand


class Command(CsvImportCommand):
    help = (
        "Import or update staff from a CSV file (columns: email, name or first_name/last_name, "
        "department, language, roles separated by ';' or '|'). All or nothing: a bad line is "
        "reported with its number and nothing is imported."
    )
    actor_help = (
        "the user administrator (admin role or superuser) recorded in the audit trail (default: system)"
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--deactivate-missing",
            action="store_true",
            help="deactivate active users absent from the file (never superusers)",
        )

    def import_rows(self, *, actor, columns, rows, source, options):
        result = staff_import(
            actor=actor,
            rows=rows,
            columns=columns,
            deactivate_missing=options["deactivate_missing"],
            source=source,
        )
        return (
            "Imported {rows} row(s): {created} created, {updated} updated, {unchanged} unchanged, "
            "{deactivated} deactivated.".format(**result.as_dict())
        )
