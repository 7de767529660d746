"""The staff directory import (a CSV export of the directory): all or nothing, every bad line
named, one audit entry per person changed and one for the file."""

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from apps.audit.services import audit_record_many
from apps.core.csv_import import CsvImportError, CsvRow, numbered_rows
from apps.core.errors import NotAllowedError

from .models import StaffProfile
from .roles import (
    EMPLOYEE,
    ROLE_SEPARATORS,
    ROLES,
    combines_exclusive_roles,
    exclusive_roles_message,
    is_user_administrator,
)
from .signals import sync_is_staff
from .users import roles_change_item

User = get_user_model()

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}
# Longer spellings a directory export may carry, mapped to our codes.
LANGUAGE_ALIASES = {"francais": "fr", "français": "fr", "french": "fr", "english": "en", "anglais": "en"}


# A staff file's row: the shared CSV row (its first physical line number and its cells).
StaffRow = CsvRow


@dataclass
class StaffImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    rows: int = 0

    def as_dict(self):
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deactivated": self.deactivated,
        }


class StaffImportError(CsvImportError):
    """The file has bad rows; nothing was imported. `errors` lists (line, message), every one."""

    def describe(self, count, line, message):
        return _("%(count)d bad line(s) in the staff file; nothing was imported. Line %(line)d: %(msg)s") % {
            "count": count,
            "line": line,
            "msg": message,
        }


@dataclass
class _Person:
    line: int
    email: str
    first_name: str | None
    last_name: str | None
    department: str | None  # None: column absent, leave what is stored
    language: str | None
    roles: set[str] = field(default_factory=set)


def _split_name(name: str) -> tuple[str, str]:
    """ "Curie, Marie" → (Marie, Curie); "Marie Curie" → (Marie, Curie); one word → (word, "")."""
    name = " ".join(name.split())
    if "," in name:
        last, _sep, first = name.partition(",")
        return first.strip(), last.strip()
    first, _sep, last = name.partition(" ")
    return first, last


def _clean(value) -> str:
    return (value or "").strip()


def _parse_row(row: StaffRow, columns: set[str], role_names: set[str]):
    """→ (_Person, []) or (None, [messages])."""
    values = row.values
    errors = []
    # csv.DictReader: a short row gives None for the missing cells, a long one a None key.
    missing = sorted(k for k, v in values.items() if k is not None and v is None)
    if missing:
        errors.append(_("missing value for column(s) %(cols)s") % {"cols": ", ".join(missing)})
    if values.get(None):
        errors.append(_("more cells than the header has columns"))

    email = _clean(values.get("email")).lower()
    if not email:
        errors.append(_("email is empty"))
    else:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(_("bad email %(email)r") % {"email": email})
        if len(email) > 150:
            errors.append(_("email longer than 150 characters"))

    if "name" in columns and not ({"first_name", "last_name"} <= columns):
        first, last = _split_name(_clean(values.get("name")))
    else:
        first, last = _clean(values.get("first_name")), _clean(values.get("last_name"))
    if len(first) > 150 or len(last) > 150:
        errors.append(_("name longer than 150 characters"))

    department = None
    if "department" in columns:
        department = _clean(values.get("department"))
        if len(department) > 120:
            errors.append(_("department longer than 120 characters"))

    language = None
    if "language" in columns:
        raw = _clean(values.get("language")).lower()
        language = LANGUAGE_ALIASES.get(raw, raw) or StaffProfile.DEFAULT_LANGUAGE
        if language not in LANGUAGE_CODES:
            errors.append(
                _("unknown language %(lang)r (expected one of: %(codes)s)")
                % {"lang": raw, "codes": ", ".join(sorted(LANGUAGE_CODES))}
            )

    roles = {r.strip().lower() for r in ROLE_SEPARATORS.split(_clean(values.get("roles"))) if r.strip()}
    unknown = sorted(roles - role_names)
    if unknown:
        errors.append(
            _("unknown role(s) %(roles)s (expected: %(known)s)")
            % {"roles": ", ".join(unknown), "known": ", ".join(sorted(role_names))}
        )
    if combines_exclusive_roles(roles):
        errors.append(str(exclusive_roles_message()))
    if errors:
        return None, errors
    # Every staff member is at least an employee when the file names no role.
    return _Person(row.line, email, first, last, department, language, roles or {EMPLOYEE}), []


def _validate(rows: list[StaffRow], columns: set[str]) -> tuple[list[_Person], list[tuple[int, str]]]:
    errors: list[tuple[int, str]] = []
    missing_cols = [c for c in ("email", "roles") if c not in columns]
    if "name" not in columns and not ({"first_name", "last_name"} <= columns):
        missing_cols.append("name (or first_name and last_name)")
    if missing_cols:
        return [], [(1, _("missing column(s): %(cols)s") % {"cols": ", ".join(missing_cols)})]

    people, seen = [], {}
    role_names = set(ROLES)
    for row in rows:
        person, row_errors = _parse_row(row, columns, role_names)
        if person is not None and person.email in seen:
            row_errors.append(
                _("email %(email)s already appears on line %(line)d")
                % {"email": person.email, "line": seen[person.email]}
            )
        errors.extend((row.line, msg) for msg in row_errors)
        if person is not None and not row_errors:
            seen[person.email] = row.line
            people.append(person)
    return people, errors


class _Directory:
    """The whole directory in a few queries: users by lower-cased email (and by username for
    the rows no email matches), their profile, their roles; and the role groups."""

    def __init__(self, people: list[_Person]):
        self.groups = {g.name: g for g in Group.objects.filter(name__in=ROLES)}
        for name in set(ROLES) - set(self.groups):  # a database flushed by tests lacks the data migration
            self.groups[name] = Group.objects.create(name=name)
        group_names_by_id = {g.pk: name for name, g in self.groups.items()}
        self.by_email: dict[str, list] = {}
        for user in User.objects.select_related("staff_profile").exclude(email=""):
            self.by_email.setdefault(user.email.lower(), []).append(user)
        # Accounts whose username is the email but whose email field is blank or different.
        unmatched = [p.email for p in people if p.email not in self.by_email]
        self.by_username = {}
        for start in range(0, len(unmatched), 2000):  # SQLite caps the parameters of one query
            chunk = unmatched[start : start + 2000]
            self.by_username.update(
                (u.username.lower(), u)
                for u in User.objects.select_related("staff_profile").filter(username__in=chunk)
            )
        self.through = User.groups.through
        self.roles_of: dict[int, set[str]] = {}
        for user_id, group_id in self.through.objects.filter(group_id__in=group_names_by_id).values_list(
            "user_id", "group_id"
        ):
            self.roles_of.setdefault(user_id, set()).add(group_names_by_id[group_id])

    def match(self, people: list[_Person]) -> tuple[dict[str, object], dict[int, int]]:
        """Which existing account each row updates → ({email: user}, {user pk: line}); two rows
        may not land on the same account, nor one row on several (StaffImportError, every line)."""
        target: dict[str, object] = {}
        claimed: dict[int, int] = {}
        conflicts = []
        for p in people:
            if len(self.by_email.get(p.email, [])) > 1:
                conflicts.append(
                    (p.line, _("several users already have the email %(email)s") % {"email": p.email})
                )
                continue
            user = (self.by_email.get(p.email) or [None])[0] or self.by_username.get(p.email)
            if user is not None and user.pk in claimed:
                conflicts.append(
                    (
                        p.line,
                        _("this row and line %(line)d both match the account %(username)s")
                        % {"line": claimed[user.pk], "username": user.username},
                    )
                )
                continue
            if user is not None:
                claimed[user.pk] = p.line
                target[p.email] = user
        if conflicts:
            raise StaffImportError(conflicts)
        return target, claimed

    def link(self, user, role: str):
        return self.through(user_id=user.pk, group_id=self.groups[role].pk)


@dataclass
class _Writes:
    """What the import will write, gathered row by row, then written in bulk."""

    audit_items: list = field(default_factory=list)
    to_create: list = field(default_factory=list)  # (person, unsaved user)
    changed_users: list = field(default_factory=list)
    profiles_new: list = field(default_factory=list)
    profiles_changed: list = field(default_factory=list)
    links_add: list = field(default_factory=list)
    links_remove: list = field(default_factory=list)  # (user pk, group pk)


def _plan_update(p: _Person, user, directory: _Directory, writes: _Writes, actor) -> bool:
    """Bring the existing `user` in line with row `p` (in memory, recorded in `writes`); → whether
    anything changed."""
    changes = {}
    for attr, value in (("email", p.email), ("first_name", p.first_name), ("last_name", p.last_name)):
        if getattr(user, attr) != value:
            changes[attr] = [getattr(user, attr), value]
            setattr(user, attr, value)
    if not user.is_active:
        changes["is_active"] = [False, True]
        user.is_active = True
    if changes:
        writes.changed_users.append(user)
    try:
        profile = user.staff_profile
    except StaffProfile.DoesNotExist:
        profile = None
    if profile is None:
        profile = StaffProfile(user=user)
        writes.profiles_new.append(profile)
        if p.department is None:
            profile.department = ""
        if p.language is None:
            profile.language = StaffProfile.DEFAULT_LANGUAGE
    profile_changed = False
    for attr in ("department", "language"):
        value = getattr(p, attr)
        if value is not None and getattr(profile, attr) != value:
            changes[attr] = [getattr(profile, attr), value]
            setattr(profile, attr, value)
            profile_changed = True
    if profile_changed and profile.pk:
        writes.profiles_changed.append(profile)
    held = directory.roles_of.get(user.pk, set())
    if held != p.roles:
        changes["roles"] = [sorted(held), sorted(p.roles)]
        writes.audit_items.append(
            roles_change_item(actor=actor, user=user, before=held, after=p.roles, door="import")
        )
        writes.links_add += [directory.link(user, r) for r in p.roles - held]
        writes.links_remove += [(user.pk, directory.groups[r].pk) for r in held - p.roles]
    if changes:
        writes.audit_items.append(
            {"action": "account.update", "obj": user, "details": {"email": p.email, "changes": changes}}
        )
    return bool(changes)


def _create_all(writes: _Writes, directory: _Directory, actor) -> None:
    """Insert the new users (their ids needed by their profiles and role links), and plan those."""
    created = User.objects.bulk_create([u for _p, u in writes.to_create], batch_size=1000)
    if created and created[0].pk is None:  # a backend that does not return ids
        ids = dict(
            User.objects.filter(username__in=[u.username for u in created]).values_list("username", "id")
        )
        for u in created:
            u.pk = u.id = ids[u.username]
    for p, user in writes.to_create:
        writes.profiles_new.append(
            StaffProfile(
                user=user, department=p.department or "", language=p.language or StaffProfile.DEFAULT_LANGUAGE
            )
        )
        writes.links_add += [directory.link(user, r) for r in p.roles]
        if p.roles != {EMPLOYEE}:  # the default grant of every newcomer is in account.create
            writes.audit_items.append(
                roles_change_item(actor=actor, user=user, before=set(), after=p.roles, door="import")
            )
        writes.audit_items.append(
            {
                "action": "account.create",
                "obj": user,
                "details": {
                    "email": p.email,
                    "department": p.department or "",
                    "language": p.language or StaffProfile.DEFAULT_LANGUAGE,
                    "roles": sorted(p.roles),
                },
            }
        )


def _write(writes: _Writes, directory: _Directory) -> None:
    if writes.changed_users:
        User.objects.bulk_update(
            writes.changed_users, ["email", "first_name", "last_name", "is_active"], batch_size=1000
        )
    if writes.profiles_new:
        StaffProfile.objects.bulk_create(writes.profiles_new, batch_size=1000)
    if writes.profiles_changed:
        StaffProfile.objects.bulk_update(writes.profiles_changed, ["department", "language"], batch_size=1000)
    for user_id, group_id in writes.links_remove:
        directory.through.objects.filter(user_id=user_id, group_id=group_id).delete()
    if writes.links_add:
        directory.through.objects.bulk_create(writes.links_add, batch_size=1000, ignore_conflicts=True)
    # Bulk rows send no m2m_changed: the dco role's admin access is set here.
    sync_is_staff(
        {link.user_id for link in writes.links_add} | {user_id for user_id, _g in writes.links_remove}
    )


def _deactivate_missing(directory: _Directory, claimed: dict[int, int], writes: _Writes, actor) -> int:
    """Deactivate the active users no row matched (never a superuser, nor the importer)."""
    leaving = [
        u
        for users in directory.by_email.values()
        for u in users
        if u.is_active and not u.is_superuser and u.pk not in claimed and u != actor
    ]
    leaving += [
        u
        for u in User.objects.filter(email="", is_active=True, is_superuser=False)
        if u.pk not in claimed and u != actor
    ]
    for u in leaving:
        u.is_active = False
        writes.audit_items.append({"action": "account.deactivate", "obj": u, "details": {"email": u.email}})
    User.objects.bulk_update(leaving, ["is_active"], batch_size=1000)
    return len(leaving)


@transaction.atomic
def staff_import(
    *,
    actor,
    rows: Iterable[StaffRow | Mapping],
    columns: Iterable[str] | None = None,
    deactivate_missing: bool = False,
    source: str = "",
) -> StaffImportResult:
    """Create or update one active user per row (key: email; new users get username = email).

    Every row is validated first; if any is bad, `StaffImportError` lists every bad line and
    nothing is written. Roles are set to exactly those listed (none listed: employee).
    Absent department/language columns leave the stored values alone. Users missing from the
    file are left alone unless `deactivate_missing` (superusers never are).
    """
    if actor is not None and not is_user_administrator(actor):
        raise NotAllowedError(_("Only a user administrator (admin role or superuser) may import staff."))
    rows = numbered_rows(rows)
    if columns is None:
        columns = rows[0].values.keys() if rows else ()
    columns = {c.strip().lower() for c in columns if c}
    people, errors = _validate(rows, columns)
    if errors:
        raise StaffImportError(errors)

    result = StaffImportResult(rows=len(people))
    directory = _Directory(people)
    target, claimed = directory.match(people)
    writes = _Writes()
    for p in people:
        user = target.get(p.email)
        if user is None:
            user = User(username=p.email, email=p.email, first_name=p.first_name, last_name=p.last_name)
            # No password: they sign in through SSO or a password reset. (set_unusable_password
            # draws 40 characters one urandom call each: a fifth of a 35,000-row import.)
            user.password = UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)
            writes.to_create.append((p, user))
        elif _plan_update(p, user, directory, writes, actor):
            result.updated += 1
        else:
            result.unchanged += 1
    if writes.to_create:
        _create_all(writes, directory, actor)
        result.created = len(writes.to_create)
    _write(writes, directory)
    if deactivate_missing:
        result.deactivated = _deactivate_missing(directory, claimed, writes, actor)

    writes.audit_items.append(
        {
            "action": "staff.import",
            "object_type": "staff_file",
            "object_id": source[:64],
            "details": {**result.as_dict(), "source": source, "deactivate_missing": deactivate_missing},
        }
    )
    audit_record_many(actor=actor, entries=writes.audit_items)
    return result
