"""View plumbing: role checks (403 otherwise) and service calls whose errors become messages."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from apps.accounts.roles import has_role
from apps.core.pages import call_service, form_errors_to_messages, submit_form  # noqa: F401


def roles_required(*roles, write_roles=None):
    """Signed-in users holding one of `roles`; unsafe methods need one of `write_roles` (default:
    the same roles). Everyone else gets 403: rights are checked here, never only by hiding links."""
    write_roles = tuple(write_roles or roles)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            allowed = write_roles if request.method not in ("GET", "HEAD", "OPTIONS") else roles
            if not has_role(request.user, *allowed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
