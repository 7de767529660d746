from apps.core.csv_import import CsvImportCommand
from apps.watch.services import watched_accounts_import


class Command(CsvImportCommand):
    help = (
        "Import or update the professional accounts to watch from a CSV file (columns: network, kind, "
        "url, owners as staff e-mails separated by ';' or '|', department, active). All or nothing: "
        "every bad line is reported with its number and nothing is imported."
    )
    actor_help = "a DCO's username recorded in the audit trail (default: system)"

    def import_rows(self, *, actor, columns, rows, source, options):
        result = watched_accounts_import(actor=actor, rows=rows, columns=columns, source=source)
        return "created {created}, updated {updated}, unchanged {unchanged}".format(**result)
