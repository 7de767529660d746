"""Everything about accounts goes on the record, whichever door it came through.

Django's own signals cover every door at once: the web login, the Django admin's login, the
token endpoint (which calls `authenticate` and sends `user_logged_in`) and single sign-on (its
callback calls `auth.login`). A password set by any path (admin form, `changepassword`, a
reset, `set_password` in a shell) is seen on the user's save; it also revokes every API token
of that person.

Payloads name who did it, whom it concerned, the door and the client address; never a password,
a hash or a token.
"""

import contextvars

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import post_save, pre_save

from apps.audit.services import audit_record

from .network import client_address

# The request being served (set by apps.accounts.middleware.RequestContextMiddleware), so that
# a password saved deep in a form knows who saved it.
current_request: contextvars.ContextVar = contextvars.ContextVar("crisiscomm_request", default=None)


def door_of(request) -> str:
    if request is None:
        return "command"
    path = getattr(request, "path", "") or ""
    if path.startswith("/admin/"):
        return "admin"
    if path.startswith("/api/"):
        return "token"
    if path.startswith("/oidc/"):
        return "sso"
    return "web"


def _request_actor():
    request = current_request.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if getattr(user, "is_authenticated", False) else None


def _record(*, actor, action, whom=None, details):
    with transaction.atomic():
        audit_record(actor=actor, action=action, obj=whom, details=details)


def _record_session(action, request, user):
    _record(
        actor=user,
        action=action,
        whom=user,
        details={
            "who": user.get_username(),
            "whom": user.get_username(),
            "door": door_of(request),
            "client": client_address(request) if request is not None else "",
        },
    )


def on_login(sender, request, user, **kwargs):
    _record_session("account.login", request, user)


def on_logout(sender, request, user, **kwargs):
    if user is None or not getattr(user, "is_authenticated", False):
        return
    _record_session("account.logout", request, user)


def on_login_failed(sender, credentials, request=None, **kwargs):
    # `credentials` has the password already masked by Django; only the username is kept.
    username = str(credentials.get("username") or "")[:150]
    _record(
        actor=None,
        action="account.login_failed",
        details={
            "who": username,
            "whom": username,
            "door": door_of(request),
            "client": client_address(request) if request is not None else "",
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
            "reason": str(getattr(request, "crisiscomm_login_refusal", ""))[:300],
        },
    )


def on_user_pre_save(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or (update_fields is not None and "password" not in update_fields):
        return
    # set_password() keeps the raw value until the save; a hash upgrade at login clears it
    # first (it is no password change); set_unusable_password() is seen against the stored hash.
    changed = getattr(instance, "_password", None) is not None
    if not changed and instance.pk and not instance.has_usable_password():
        stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
        changed = stored is not None and stored != instance.password
    instance._crisiscomm_password_changed = changed


def on_user_post_save(sender, instance, created, raw=False, **kwargs):
    if raw or not getattr(instance, "_crisiscomm_password_changed", False):
        return
    instance._crisiscomm_password_changed = False
    actor = _request_actor()
    request = current_request.get()
    from knox.models import AuthToken

    with transaction.atomic():
        revoked, _per_model = AuthToken.objects.filter(user=instance).delete()
        audit_record(
            actor=actor,
            action="account.password_set",
            obj=instance,
            details={
                "who": actor.get_username() if actor else "system",
                "whom": instance.get_username(),
                "door": door_of(request),
                "usable": instance.has_usable_password(),
                "created": created,
                "tokens_revoked": revoked,
            },
        )


def connect():
    User = get_user_model()
    user_logged_in.connect(on_login, dispatch_uid="accounts.audit_login")
    user_logged_out.connect(on_logout, dispatch_uid="accounts.audit_logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="accounts.audit_login_failed")
    pre_save.connect(on_user_pre_save, sender=User, dispatch_uid="accounts.password_pre")
    post_save.connect(on_user_post_save, sender=User, dispatch_uid="accounts.password_post")
