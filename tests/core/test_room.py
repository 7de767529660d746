"""The core room: the rights check and the partial-update helper every service shares."""

import pytest

from apps.core.errors import NotAllowedError, ServiceError
from apps.core.roles import DCO, EMPLOYEE, require_role
from apps.core.updates import model_update


@pytest.mark.django_db
def test_require_role_refuses_a_missing_role_and_a_deactivated_holder(make_user):
    """Mutation: `require_role` returning without checking `has_role` -> this test fails."""
    officer = make_user(DCO)
    staff = make_user(EMPLOYEE)
    require_role(officer, DCO)  # no error
    with pytest.raises(NotAllowedError) as refused:
        require_role(staff, DCO)
    assert refused.value.status_code == 403
    assert "dco" in refused.value.message
    officer.is_active = False
    del officer._crisiscomm_roles
    with pytest.raises(NotAllowedError):
        require_role(officer, DCO)


@pytest.mark.django_db
def test_model_update_saves_the_changes_and_refuses_a_field_it_may_not_change(make_user):
    """Mutation: dropping the `unknown` check (silently ignoring fields outside `fields`) -> the
    second half of this test fails: the caller would believe the e-mail was changed."""
    person = make_user(EMPLOYEE, first_name="Ana", last_name="Roux", email="ana@agency.example")
    person, changes = model_update(
        instance=person, fields=("first_name", "last_name"), data={"first_name": "Anna", "last_name": "Roux"}
    )
    assert changes == {"first_name": ["Ana", "Anna"]}
    person.refresh_from_db()
    assert person.first_name == "Anna"

    with pytest.raises(ServiceError) as refused:
        model_update(instance=person, fields=("first_name",), data={"email": "other@agency.example"})
    assert refused.value.field == "email"
    person.refresh_from_db()
    assert person.email == "ana@agency.example"


@pytest.mark.django_db
def test_model_update_validates_only_what_changed(make_user):
    """A too-long value is refused as a 400 naming the field before it reaches the database.
    Mutation: `clean=False` by default (no full_clean) -> the database raises DataError, this
    test fails."""
    person = make_user(EMPLOYEE)
    with pytest.raises(ServiceError) as refused:
        model_update(instance=person, fields=("first_name",), data={"first_name": "x" * 500})
    assert refused.value.field == "first_name"


def test_a_refusal_naming_a_field_is_shown_on_that_field_and_in_the_messages(rf):
    """The pages' one form block (apps.core.pages.submit_form, used by the web, watch and policy
    pages). Mutation: call_service no longer adding the refusal to the named field -> the page
    would show the error away from the field -> this test fails."""
    from django import forms
    from django.contrib.messages import get_messages
    from django.contrib.messages.storage.fallback import FallbackStorage

    from apps.core.pages import submit_form

    class AccountForm(forms.Form):
        url = forms.CharField()

    def refuse(*, url, actor):
        raise ServiceError(f"{url} cannot be read.", field="url")

    request = rf.post("/watch/")
    request.session = {}
    request._messages = FallbackStorage(request)
    form = AccountForm({"url": "https://example.invalid/feed"})
    assert submit_form(request, form, refuse, on_field=True, actor=None) is None
    assert form.errors["url"] == ["https://example.invalid/feed cannot be read."]
    assert [str(m) for m in get_messages(request)] == ["https://example.invalid/feed cannot be read."]
