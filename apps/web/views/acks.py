"""Who has not acknowledged the crisis's current notice: the list (by department), its CSV,
"remind them now". The reads are the notifications app's selectors; the reminder is its service,
which checks the role and writes the audit entry."""

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.roles import AUDITOR, DCO
from apps.crises.models import Crisis
from apps.notifications.models import NoticeEvent
from apps.notifications.selectors import (
    COUNTED_WITH_STAFF_NOTICE,
    notice_figures,
    pending_row,
    people_not_acknowledged,
)
from apps.notifications.services import notice_event_allowed_actions, reminders_send_now

from ..helpers import call_service, roles_required

control_access = roles_required(DCO, AUDITOR, write_roles=(DCO,))
PAGE_SIZE = 100


def _department(request):
    """The department filter: absent means every department; "" is the people without one."""
    return request.GET.get("department") if "department" in request.GET else None


def _when(value):
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT") if value else ""


def _current_event(crisis):
    """The crisis's notice the figures count by default (the declaration, or its extension)."""
    figures = notice_figures(crisis_id=crisis.pk, include=COUNTED_WITH_STAFF_NOTICE)
    return NoticeEvent.objects.filter(pk=(figures.get("event") or {}).get("id")).first()


@control_access
@require_GET
def not_acknowledged(request, crisis_id):
    crisis = get_object_or_404(Crisis, pk=crisis_id)
    department = _department(request)
    rows = people_not_acknowledged(crisis_id=crisis.pk, department=department)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page") or 1)
    event = _current_event(crisis)
    context = {
        "crisis": crisis,
        "department": department,
        "departments": sorted(notice_figures(crisis_id=crisis.pk)["by_department"]),
        "page": page,
        "people": [pending_row(row=r) for r in page.object_list],
        "event": event,
        # What the "remind them now" button may do: the notifications service says (role, crisis over).
        "actions": notice_event_allowed_actions(user=request.user, event=event) if event else frozenset(),
    }
    return render(request, "web/not_acknowledged.html", context)


class _Echo:
    def write(self, value):
        return value


@control_access
@require_GET
def not_acknowledged_csv(request, crisis_id):
    """Every person of the list (not one page), streamed: 35,000 lines stay cheap."""
    crisis = get_object_or_404(Crisis, pk=crisis_id)
    rows = people_not_acknowledged(crisis_id=crisis.pk, department=_department(request))
    writer = csv.writer(_Echo())
    header = [_("Username"), _("Name"), _("Department"), _("Channels tried"), _("Last attempt")]

    def lines():
        yield writer.writerow(header)
        for raw in rows.iterator(chunk_size=2000):
            row = pending_row(row=raw)
            yield writer.writerow(
                [
                    row["username"],
                    row["name"],
                    row["department"],
                    ", ".join(row["channels"]),
                    _when(row["last_attempt"]),
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="crisis-{crisis.pk}-not-acknowledged.csv"'
    return response


@control_access
@require_POST
def remind_now(request, crisis_id):
    """Remind now everyone who has not acknowledged the crisis's current notice, beside the
    scheduled reminders (the notifications service checks the role and audits it)."""
    crisis = get_object_or_404(Crisis, pk=crisis_id)
    event = _current_event(crisis)
    if event is None:
        messages.error(request, _("No notice has gone out for this crisis yet: nobody to remind."))
    else:
        call_service(
            request,
            reminders_send_now,
            success=_("A reminder is on its way to everyone who has not acknowledged."),
            actor=request.user,
            event=event,
        )
    return redirect("web:not-acknowledged", crisis_id=crisis.pk)
