"""`manage.py import_staff`: all or nothing, re-runs update, every bad line named."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from apps.accounts.models import StaffProfile, profile_of
from apps.accounts.roles import user_roles
from apps.accounts.services import StaffImportError, staff_import
from apps.audit.models import AuditEntry
from apps.audit.selectors import audit_chain_verify

User = get_user_model()

GOOD = """email,name,department,language,roles
marie.curie@agency.example,Marie Curie,Physics,fr,expert;spokesperson
ada@agency.example,"Lovelace, Ada",Computing,en,employee
jean@agency.example,Jean Dupont,Communication,fr,dco|employee
"""


def write(tmp_path, text, name="staff.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(path, *args):
    call_command("import_staff", path, *args)


def roles_of(email):
    user = User.objects.get(username=email)
    return user_roles(user)


@pytest.mark.django_db
def test_import_creates_users_profiles_roles_and_audit(tmp_path, capsys):
    run(write(tmp_path, GOOD))
    assert "3 created" in capsys.readouterr().out
    marie = User.objects.get(username="marie.curie@agency.example")
    assert (marie.email, marie.first_name, marie.last_name) == (
        "marie.curie@agency.example",
        "Marie",
        "Curie",
    )
    assert profile_of(marie) == ("fr", "Physics")
    assert not marie.has_usable_password()
    ada = User.objects.get(username="ada@agency.example")
    assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
    assert profile_of(ada) == ("en", "Computing")
    assert roles_of("marie.curie@agency.example") == {"expert", "spokesperson"}
    assert roles_of("jean@agency.example") == {"dco", "employee"}
    summary = AuditEntry.objects.get(action="staff.import")
    assert summary.details["created"] == 3 and summary.actor_repr == "system"
    assert AuditEntry.objects.filter(action="account.create").count() == 3
    assert audit_chain_verify().valid


@pytest.mark.django_db
def test_rerun_updates_instead_of_duplicating(tmp_path, capsys):
    run(write(tmp_path, GOOD))
    changed = GOOD.replace("Physics,fr,expert;spokesperson", "Chemistry,en,expert").replace(
        "Jean Dupont", "Jean Martin"
    )
    run(write(tmp_path, changed, "again.csv"))
    out = capsys.readouterr().out
    assert "0 created, 2 updated, 1 unchanged" in out
    assert User.objects.count() == 3
    marie = User.objects.get(username="marie.curie@agency.example")
    assert profile_of(marie) == ("en", "Chemistry")
    assert roles_of("marie.curie@agency.example") == {"expert"}  # spokesperson removed
    assert User.objects.get(username="jean@agency.example").last_name == "Martin"
    update = AuditEntry.objects.filter(action="account.update", object_id=str(marie.pk)).get()
    assert update.details["changes"]["roles"] == [["expert", "spokesperson"], ["expert"]]
    assert StaffProfile.objects.count() == 3


@pytest.mark.django_db
def test_bad_rows_import_nothing_and_every_line_is_named(tmp_path, capsys):
    text = (
        "email,name,department,language,roles\n"
        "ok@agency.example,Ok Person,Ops,fr,employee\n"
        "not-an-email,Bad Email,Ops,fr,employee\n"
        "x@agency.example,Bad Role,Ops,fr,employee;pope\n"
        "y@agency.example,Bad Language,Ops,de,employee\n"
        "z@agency.example,Short Row,Ops\n"
        "OK@agency.example,Dup,Ops,fr,employee\n"
    )
    with pytest.raises(CommandError, match="5 bad line"):
        run(write(tmp_path, text))
    err = capsys.readouterr().err
    assert ":3: bad email 'not-an-email'" in err
    assert ":4: unknown role(s) pope" in err
    assert ":5: unknown language 'de'" in err
    assert ":6: missing value for column(s) language, roles" in err
    assert ":7: email ok@agency.example already appears on line 2" in err
    assert User.objects.count() == 0
    assert AuditEntry.objects.count() == 0


@pytest.mark.django_db
def test_a_bad_row_leaves_existing_users_untouched(tmp_path):
    run(write(tmp_path, GOOD))
    bad = GOOD.replace("Physics", "Chemistry") + "broken@,Someone,X,fr,employee\n"
    with pytest.raises(CommandError):
        run(write(tmp_path, bad, "bad.csv"))
    assert profile_of(User.objects.get(username="marie.curie@agency.example"))[1] == "Physics"


@pytest.mark.django_db
def test_missing_column_is_reported_on_the_header_line(tmp_path, capsys):
    with pytest.raises(CommandError):
        run(write(tmp_path, "email,name,department\na@agency.example,A B,X\n"))
    assert ":1: missing column(s): roles" in capsys.readouterr().err
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_semicolon_file_first_last_name_columns_and_bom(tmp_path):
    text = (
        "\ufeffEmail;First_Name;Last_Name;Department;Language;Roles\n"
        "b@agency.example;Béa;Ré;Ops;;expert|auditor\n"
    )
    path = tmp_path / "excel.csv"
    path.write_text(text, encoding="utf-8")
    run(str(path))
    user = User.objects.get(username="b@agency.example")
    assert (user.first_name, user.last_name) == ("Béa", "Ré")
    assert profile_of(user) == ("fr", "Ops")  # empty language → the default
    assert user_roles(user) == {"expert", "auditor"}


@pytest.mark.django_db
def test_existing_account_matched_by_email_keeps_its_username(tmp_path, make_user):
    old = make_user("dco", username="jdupont", email="Jean@Agency.example")
    run(write(tmp_path, GOOD))
    old.refresh_from_db()
    assert old.username == "jdupont" and old.email == "jean@agency.example"
    assert User.objects.filter(email__iexact="jean@agency.example").count() == 1


@pytest.mark.django_db
def test_absent_users_left_alone_unless_deactivate_missing(tmp_path, make_user):
    other = make_user("employee", username="left@agency.example", email="left@agency.example")
    admin = User.objects.create_superuser("root", "root@agency.example", "pw-long-enough-123")
    run(write(tmp_path, GOOD))
    other.refresh_from_db()
    assert other.is_active
    run(write(tmp_path, GOOD, "again.csv"), "--deactivate-missing")
    other.refresh_from_db()
    admin.refresh_from_db()
    assert not other.is_active and admin.is_active
    assert AuditEntry.objects.filter(action="account.deactivate", object_id=str(other.pk)).exists()
    # Back in the file: active again.
    run(write(tmp_path, GOOD + "left@agency.example,Left Person,Ops,fr,employee\n", "back.csv"))
    other.refresh_from_db()
    assert other.is_active


@pytest.mark.django_db
def test_service_refuses_a_non_administrator_actor_and_lists_errors(employee, dco, make_user):
    """Separation of duties at the import door: a dco (or an employee) is refused; a user
    administrator imports.

    Mutation: the is_user_administrator(actor) test removed from services.staff_import -> the
    dco's import goes through -> this test fails."""
    from apps.core.errors import NotAllowedError

    useradmin = make_user("admin", username="useradmin")
    for actor in (employee, dco):
        with pytest.raises(NotAllowedError, match="user administrator"):
            staff_import(actor=actor, rows=[{"email": "a@agency.example", "name": "A", "roles": ""}])
    with pytest.raises(StaffImportError) as exc:
        staff_import(actor=useradmin, rows=[{"email": "a@", "name": "A", "roles": "boss"}])
    assert [line for line, _msg in exc.value.errors] == [2, 2]
    result = staff_import(actor=useradmin, rows=[{"email": "a@agency.example", "name": "A", "roles": ""}])
    assert result.created == 1
    assert roles_of("a@agency.example") == {"employee"}  # no role listed: employee
    assert AuditEntry.objects.get(action="staff.import").actor_repr == useradmin.username


@pytest.mark.django_db
def test_import_command_refuses_a_dco_actor_and_admin_with_dco(tmp_path, dco, make_user, capsys):
    """`import_staff --actor`: the dco is refused; a row giving admin and dco is a bad line.

    Mutation: the combines_exclusive_roles row check removed from services._parse_row -> the
    row imports (and the bulk insert bypasses the m2m guard) -> this test fails."""
    make_user("admin", username="useradmin")
    csv = tmp_path / "staff.csv"
    csv.write_text("email,name,department,language,roles\npuppet@agency.example,Pup Pet,Com,fr,employee\n")
    with pytest.raises(CommandError):
        call_command("import_staff", str(csv), "--actor", dco.username)
    assert not User.objects.filter(email="puppet@agency.example").exists()
    csv.write_text(
        "email,name,department,language,roles\n"
        "ok@agency.example,O K,Com,fr,employee\n"
        "both@agency.example,Both Ways,Com,fr,admin;dco\n"
    )
    with pytest.raises(CommandError):
        call_command("import_staff", str(csv), "--actor", "useradmin")
    assert "staff.csv:3: The roles admin and dco cannot be held by the same person" in capsys.readouterr().err
    assert not User.objects.filter(email__in=["ok@agency.example", "both@agency.example"]).exists()
    csv.write_text("email,name,department,language,roles\nok@agency.example,O K,Com,fr,dco\n")
    call_command("import_staff", str(csv), "--actor", "useradmin")
    change = AuditEntry.objects.get(action="account.roles_change")
    assert change.details == {
        "who": "useradmin",
        "whom": "ok@agency.example",
        "before": [],
        "after": ["dco"],
        "door": "import",
    }


@pytest.mark.django_db
def test_quoted_line_breaks_keep_line_numbers_right(tmp_path, capsys):
    text = (
        "email,name,department,language,roles\n"
        'a@agency.example,"Multi\nLine",Ops,fr,employee\n'
        "bad,B,Ops,fr,employee\n"
    )
    with pytest.raises(CommandError):
        run(write(tmp_path, text))
    assert ":4: bad email 'bad'" in capsys.readouterr().err


@pytest.mark.django_db
def test_two_rows_on_one_account_are_refused_and_username_matches_are_not_deactivated(
    tmp_path, make_user, capsys
):
    # An account whose username is one address and whose email is another.
    odd = make_user("employee", username="b@agency.example", email="a@agency.example")
    header = "email,name,department,language,roles\n"
    with pytest.raises(CommandError):
        run(write(tmp_path, header + "a@agency.example,A,X,fr,employee\nb@agency.example,B,X,fr,employee\n"))
    assert ":3: this row and line 2 both match the account b@agency.example" in capsys.readouterr().err

    run(
        write(tmp_path, header + "b@agency.example,B Person,X,fr,employee\n", "ok.csv"),
        "--deactivate-missing",
    )
    odd.refresh_from_db()
    assert odd.is_active and odd.email == "b@agency.example"
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_dry_run_reports_and_writes_nothing(tmp_path, capsys):
    run(write(tmp_path, GOOD), "--dry-run")
    out = capsys.readouterr().out
    assert "Dry run" in out and "3 created" in out
    assert User.objects.count() == 0 and AuditEntry.objects.count() == 0
