"""The audit trail, for auditors and the DCO: the latest entries and a check of the hash chain."""

from django.core.paginator import Paginator
from django.shortcuts import render

from apps.accounts.roles import AUDITOR, DCO
from apps.audit.models import AuditEntry
from apps.audit.selectors import audit_chain_verify

from ..helpers import roles_required


@roles_required(AUDITOR, DCO)
def audit_trail(request):
    action = (request.GET.get("action") or "").strip()
    entries = AuditEntry.objects.order_by("-sequence")
    if action:
        entries = entries.filter(action__startswith=action)
    page = Paginator(entries, 50).get_page(request.GET.get("page") or 1)
    context = {
        "page": page,
        "action": action,
        # Walks the whole chain: only on request.
        "chain": audit_chain_verify() if request.GET.get("verify") == "1" else None,
    }
    return render(request, "web/audit.html", context)
