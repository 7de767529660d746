"""Evidence is never deleted, by any door: a BEFORE DELETE trigger on every evidence table
(migration audit 0005), whoever asks (ORM cascade, raw SQL, the admin)."""

import pytest
from django.apps import apps
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction

EVIDENCE = [
    ("crises", "Crisis"),
    ("crises", "PostDecision"),
    ("notifications", "NoticeEvent"),
    ("notifications", "Notice"),
    ("notifications", "Acknowledgement"),
    ("statements", "Statement"),
    ("statements", "StatementRevision"),
    ("statements", "ApprovalRequest"),
    ("statements", "Decision"),
    ("audit", "AuditEntry"),
]

REFUSED = (InternalError, ProgrammingError, IntegrityError)


@pytest.mark.django_db
@pytest.mark.parametrize("app_model", EVIDENCE, ids=[m for _a, m in EVIDENCE])
def test_every_evidence_table_has_an_enabled_delete_trigger(app_model):
    """Mutation: a table dropped from EVIDENCE in migration audit 0005 -> no trigger -> fails."""
    table = apps.get_model(*app_model)._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.tgname, p.proname, t.tgenabled FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
            WHERE c.relname = %s AND NOT t.tgisinternal
              AND (t.tgtype & 8) = 8  -- fires on DELETE
              AND (t.tgtype & 2) = 2  -- BEFORE
              AND (t.tgtype & 1) = 1  -- FOR EACH ROW
            """,
            [table],
        )
        rows = cursor.fetchall()
    assert rows, f"no BEFORE DELETE row trigger on {table}"
    assert all(enabled == "O" for _name, _proc, enabled in rows)


@pytest.fixture
def declared(make_user, django_capture_on_commit_callbacks):
    from apps.crises.services import crisis_declare

    officer = make_user("dco", username="officer")
    make_user("employee", username="staff1")
    with django_capture_on_commit_callbacks(execute=True):
        crisis = crisis_declare(
            actor=officer, title="Anomaly", summary="internal", severity=2, topics=["Launch"]
        )
    return crisis


def _refused(run):
    with pytest.raises(REFUSED, match="evidence is never deleted"), transaction.atomic():
        run()


@pytest.mark.django_db
def test_a_crisis_is_not_deleted_by_the_orm_nor_by_sql(declared):
    """Mutation: the trigger on crises_crisis dropped -> the DELETE goes through -> fails."""
    from django.db.models import ProtectedError

    from apps.crises.models import Crisis

    # The ORM stops at the PROTECT foreign keys first; raw SQL meets the trigger.
    with pytest.raises((ProtectedError, *REFUSED)), transaction.atomic():
        Crisis.objects.filter(pk=declared.pk).delete()

    def raw():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM crises_crisis WHERE id = %s", [declared.pk])

    _refused(raw)
    assert Crisis.objects.filter(pk=declared.pk).exists()


@pytest.mark.django_db
def test_notice_events_and_notices_are_not_deleted(declared):
    from apps.notifications.models import Notice, NoticeEvent

    event = NoticeEvent.objects.first()
    assert event is not None, "declaring a crisis records its notice event"
    notices = Notice.objects.filter(event=event).count()
    for table in ("notifications_notice", "notifications_noticeevent"):

        def raw(table=table):
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {table}")

        if table == "notifications_notice" and not notices:
            continue
        _refused(raw)
    assert NoticeEvent.objects.filter(pk=event.pk).exists()
    assert Notice.objects.filter(event=event).count() == notices


@pytest.mark.django_db
def test_no_admin_door_deletes_evidence(declared, client, make_user):
    """Even a superuser finds no delete page and no 'delete selected' action on evidence."""
    from apps.notifications.models import NoticeEvent

    chief = make_user("employee", username="chief", is_staff=True, is_superuser=True)
    client.force_login(chief)
    event = NoticeEvent.objects.first()
    for model, pk in (("crises/crisis", declared.pk), ("notifications/noticeevent", event.pk)):
        assert client.get(f"/admin/{model}/{pk}/delete/").status_code == 403, model
        changelist = client.get(f"/admin/{model}/")
        assert changelist.status_code == 200
        assert 'value="delete_selected"' not in changelist.content.decode(), model
