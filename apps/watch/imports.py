"""The CSV import of the registry: create or update accounts (key: url), all or nothing, every
bad line named."""

from collections.abc import Iterable, Mapping

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from apps.audit.services import audit_record_many
from apps.core.csv_import import CsvImportError, CsvRow, numbered_rows
from apps.core.errors import ServiceError
from apps.core.roles import require_role

from .models import Registration, WatchedAccount
from .registry import MANAGERS, account_details, clean_account_fields

# A row of the file: its first line number and its cells by column (the shared CSV base's).
AccountRow = CsvRow


class WatchImportError(CsvImportError):
    """Bad rows; nothing was imported. `errors` lists (line, message), every one."""

    def __init__(self, errors: list[tuple[int, str]]):
        super().__init__(errors, field="file")

    def describe(self, count: int, line: int, message: str) -> str:
        return _("Line %(line)s: %(message)s (%(count)s bad lines; nothing imported).") % {
            "line": line,
            "message": message,
            "count": count,
        }


IMPORT_COLUMNS = ("network", "kind", "url", "owners", "department", "active")
REQUIRED_COLUMNS = ("network", "kind", "url")
TRUE_WORDS = {"", "1", "yes", "true", "oui", "vrai", "y", "o"}
FALSE_WORDS = {"0", "no", "false", "non", "faux", "n"}


@transaction.atomic
def watched_accounts_import(
    *,
    actor,
    rows: Iterable[CsvRow | Mapping],
    columns: Iterable[str],
    source: str = "",
    check_targets: bool = True,
) -> dict:
    """Create or update accounts (key: url) from a CSV export: all or nothing, every bad line
    named. `owners` are staff e-mails separated by ';' or '|'. `actor` None is the system (the
    management command without --actor); otherwise a DCO."""
    if actor is not None:
        require_role(actor, *MANAGERS)
    columns = [c.strip().lower() for c in columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise WatchImportError([(1, _("missing column(s): %(cols)s") % {"cols": ", ".join(missing)})])
    users_by_email = {
        email.lower(): pk
        for email, pk in get_user_model().objects.filter(is_active=True).values_list("email", "pk")
        if email
    }
    errors: list[tuple[int, str]] = []
    seen_urls: dict[str, int] = {}
    parsed = []
    for row in numbered_rows(rows):
        values = {
            (k or "").strip().lower(): (v or "").strip() for k, v in row.values.items() if k is not None
        }
        if None in row.values:
            errors.append((row.line, _("more cells than columns")))
            continue
        try:
            fields = clean_account_fields(
                network=values.get("network", "").lower(),
                kind=values.get("kind", "").lower(),
                url=values.get("url", ""),
                department=values.get("department", ""),
                check_target=check_targets,
            )
        except ServiceError as exc:
            errors.append((row.line, f"{exc.field}: {exc.message}"))
            continue
        key = fields["url"].lower()
        if key in seen_urls:
            errors.append((row.line, _("url: the same account as line %(line)s") % {"line": seen_urls[key]}))
            continue
        seen_urls[key] = row.line
        owner_ids = []
        bad_owner = False
        for email in filter(
            None, (e.strip().lower() for e in values.get("owners", "").replace("|", ";").split(";"))
        ):
            if email not in users_by_email:
                errors.append(
                    (
                        row.line,
                        _("owners: no active staff member with the e-mail %(email)s") % {"email": email},
                    )
                )
                bad_owner = True
            else:
                owner_ids.append(users_by_email[email])
        active_word = values.get("active", "").lower()
        if active_word not in TRUE_WORDS | FALSE_WORDS:
            errors.append((row.line, _("active: yes or no")))
            continue
        if bad_owner:
            continue
        parsed.append((row.line, fields, owner_ids, active_word not in FALSE_WORDS))
    if errors:
        raise WatchImportError(errors)

    keys = [f["url"].lower() for _line, f, _o, _a in parsed]
    existing = {
        a.url.lower(): a
        for a in WatchedAccount.objects.select_for_update()
        .annotate(url_key=Lower("url"))
        .filter(url_key__in=keys)
    }
    created = updated = 0
    entries = []
    for _line, fields, owner_ids, active in parsed:
        account = existing.get(fields["url"].lower())
        if account is None:
            account = WatchedAccount.objects.create(
                **fields, active=active, registration=Registration.ACCEPTED, decided_by=actor
            )
            account.owners.set(owner_ids)
            created += 1
            entries.append(
                {
                    "action": "watch.account_create",
                    "obj": account,
                    "details": {
                        **account_details(account=account),
                        "owners": sorted(owner_ids),
                        "via": "import",
                    },
                }
            )
            continue
        changed = [k for k, v in fields.items() if getattr(account, k) != v]
        for key in changed:
            setattr(account, key, fields[key])
        if account.active != active:
            account.active = active
            changed.append("active")
        if account.registration != Registration.ACCEPTED:
            account.registration = Registration.ACCEPTED
            changed.append("registration")
        if changed:
            account.save(update_fields=changed)
        if set(owner_ids) != set(account.owners.values_list("pk", flat=True)):
            account.owners.set(owner_ids)
            changed.append("owners")
        if changed:
            updated += 1
            entries.append(
                {
                    "action": "watch.account_update",
                    "obj": account,
                    "details": {
                        **account_details(account=account),
                        "changed": sorted(changed),
                        "via": "import",
                    },
                }
            )
    summary = {
        "created": created,
        "updated": updated,
        "unchanged": len(parsed) - created - updated,
        "source": source[-200:],
    }
    entries.append({"action": "watch.import", "object_type": "watch.watchedaccount", "details": summary})
    audit_record_many(actor=actor, entries=entries)
    return summary
