"""Spokesperson mandates, granted and revoked by the DCO (apps.statements services)."""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.accounts.roles import AUDITOR, DCO
from apps.statements import services as st_services
from apps.statements.models import Mandate
from apps.statements.selectors import mandate_list

from ..forms import MandateForm
from ..helpers import call_service, form_errors_to_messages, roles_required

mandates_access = roles_required(DCO, AUDITOR, write_roles=(DCO,))


@mandates_access
def mandates(request):
    form = MandateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            user = get_user_model().objects.filter(username=data["username"], is_active=True).first()
            if user is None:
                form.add_error("username", _("No active person has this username."))
                form_errors_to_messages(request, form)
            elif call_service(
                request,
                st_services.mandate_grant,
                success=_("Mandate granted."),
                actor=request.user,
                user=user,
                topics=data["topics"],
                networks=data["networks"],
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
            ):
                return redirect("web:mandates")
        else:
            form_errors_to_messages(request, form)
    mandates = list(mandate_list(user=request.user)[:200])
    for mandate in mandates:
        mandate.actions = st_services.mandate_allowed_actions(user=request.user, mandate=mandate)
    context = {
        "form": form,
        "mandates": mandates,
        "page_actions": st_services.statements_page_actions(user=request.user),
    }
    return render(request, "web/mandates.html", context, status=400 if form.errors else 200)


@mandates_access
@require_POST
def mandate_revoke(request, mandate_id):
    mandate = get_object_or_404(Mandate, pk=mandate_id)
    call_service(
        request,
        st_services.mandate_revoke,
        success=_("Mandate revoked."),
        actor=request.user,
        mandate=mandate,
        reason=request.POST.get("reason", ""),
    )
    return redirect("web:mandates")
