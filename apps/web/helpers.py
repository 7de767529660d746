"""View plumbing: role checks (403 otherwise) and service calls whose errors become messages."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from apps.accounts.roles import has_role
from apps.core.errors import ServiceError


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


def call_service(request, fn, /, success=None, **kwargs):
    """Run a service; on ServiceError (400/403/409) show its message and return None.

    The service checks rights and state itself; the view only reports."""
    try:
        result = fn(**kwargs)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return None
    if success:
        messages.success(request, success)
    return result if result is not None else True


def form_errors_to_messages(request, form):
    """A failed form also says so in the messages region (announced to screen readers)."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


def submit_form(request, form, fn, /, success=None, data=None, **kwargs):
    """The page's one form block: validate `form` (each error shown as a message naming its
    field), then call the service with the cleaned data (or `data(cleaned)` when given) plus
    `kwargs`. Returns the service's result, or None when the form or the service refused."""
    if not form.is_valid():
        form_errors_to_messages(request, form)
        return None
    values = data(form.cleaned_data) if data else dict(form.cleaned_data)
    return call_service(request, fn, success=success, **values, **kwargs)
