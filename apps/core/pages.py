"""The server-rendered pages' one way to run a form and a service (every app's views use it:
the web app's, and the watch's and the policy's own pages, which sit below web)."""

from django.contrib import messages

from .errors import ServiceError


def call_service(request, fn, /, success=None, form=None, **kwargs):
    """Run a service; on ServiceError (400/403/409) show its message and return None. With
    `form`, the refusal is also shown on the field the service names, when the form has it.

    The service checks rights and state itself; the view only reports."""
    try:
        result = fn(**kwargs)
    except ServiceError as exc:
        messages.error(request, exc.message)
        if form is not None and exc.field in form.fields:
            form.add_error(exc.field, exc.message)
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


def submit_form(request, form, fn, /, success=None, data=None, on_field=False, **kwargs):
    """The page's one form block: validate `form` (each error shown as a message naming its
    field), then call the service with the cleaned data (or `data(cleaned)` when given) plus
    `kwargs`; `on_field`: a refusal naming a field is shown on that field too. Returns the
    service's result, or None when the form or the service refused."""
    if not form.is_valid():
        form_errors_to_messages(request, form)
        return None
    values = data(form.cleaned_data) if data else dict(form.cleaned_data)
    return call_service(request, fn, success=success, form=form if on_field else None, **values, **kwargs)
