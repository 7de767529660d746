"""Pages of the watch: the DCO's registry, "my professional accounts", and the control room's
live "Seen during the freeze" list. Thin: forms in, services called, ServiceError shown."""

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.roles import AUDITOR, DCO, has_role
from apps.crises.selectors import crisis_open
from crisiscomm.api import ServiceError

from . import selectors, services
from .accounts_csv import read_accounts_csv
from .forms import AccountForm, DCOAccountForm, ImportForm, ReviewForm
from .models import Sighting, WatchedAccount, WatchKind

MAX_IMPORT_BYTES = 2 * 1024 * 1024


def _require(request, *roles):
    if not has_role(request.user, *roles):
        raise PermissionDenied


def _form_error(form, exc: ServiceError):
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@login_required
@require_http_methods(["GET", "POST"])
def registry(request):
    """The DCO's page: every account, its health, proposals to decide, a form and a CSV import."""
    _require(request, DCO, AUDITOR)
    is_dco = has_role(request.user, DCO)
    form = DCOAccountForm(request.POST or None) if is_dco else None
    status = 200
    if request.method == "POST":
        _require(request, DCO)
        if form.is_valid():
            try:
                services.watched_account_create(actor=request.user, **form.cleaned_data)
            except ServiceError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("Account registered."))
                return redirect("watch:registry")
        status = 400
    accounts = list(selectors.watched_accounts_for(request.user))
    context = {
        "accounts": [a for a in accounts if a.registration == "accepted"],
        "proposed": [a for a in accounts if a.registration == "proposed"],
        "rejected": [a for a in accounts if a.registration == "rejected"],
        "health": selectors.watch_health(),
        "form": form,
        "import_form": ImportForm() if is_dco else None,
        "is_dco": is_dco,
        "unwatchable": WatchKind.UNWATCHABLE,
    }
    return render(request, "watch/registry.html", context, status=status)


@login_required
@require_POST
def account_decide(request, account_id):
    _require(request, DCO)
    account = get_object_or_404(WatchedAccount, pk=account_id)
    accept = request.POST.get("decision") == "accept"
    try:
        services.watched_account_decide(actor=request.user, account=account, accept=accept)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Account accepted.") if accept else _("Proposal rejected."))
    return redirect("watch:registry")


@login_required
@require_POST
def account_active(request, account_id):
    _require(request, DCO)
    account = get_object_or_404(WatchedAccount, pk=account_id)
    try:
        services.watched_account_update(
            actor=request.user, account=account, changes={"active": request.POST.get("active") == "1"}
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("watch:registry")


@login_required
@require_POST
def account_import(request):
    _require(request, DCO)
    form = ImportForm(request.POST, request.FILES)
    errors = []
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            errors = [(0, _("The file is larger than 2 MB."))]
        else:
            try:
                text = upload.read().decode("utf-8-sig")
                columns, rows = read_accounts_csv(io.StringIO(text, newline=""))
                with transaction.atomic():
                    result = services.watched_accounts_import(
                        actor=request.user, rows=rows, columns=columns, source=upload.name
                    )
            except UnicodeDecodeError:
                errors = [(0, _("The file is not UTF-8 text."))]
            except services.WatchImportError as exc:
                errors = exc.errors
            except ServiceError as exc:
                errors = [(0, exc.message)]
            else:
                messages.success(
                    request,
                    _("Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.")
                    % result,
                )
                return redirect("watch:registry")
    if errors:
        for line, message in errors:
            messages.error(
                request,
                _("Line %(line)s: %(message)s") % {"line": line, "message": message} if line else message,
            )
        messages.error(request, _("Nothing was imported."))
    elif form.errors:
        messages.error(request, _("Choose a CSV file."))
    return redirect("watch:registry")


@login_required
@require_http_methods(["GET", "POST"])
def my_accounts(request):
    """Anyone: the professional accounts they own, proposing a new one, and what was seen on them."""
    form = AccountForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.watched_account_propose(actor=request.user, **form.cleaned_data)
            except ServiceError as exc:
                _form_error(form, exc)
            else:
                messages.success(
                    request, _("Account proposed: the communication directorate will validate it.")
                )
                return redirect("watch:mine")
        status = 400
    owned = WatchedAccount.objects.filter(owners=request.user).order_by("network", "url")
    proposed = WatchedAccount.objects.filter(proposed_by=request.user).exclude(owners=request.user)
    context = {
        "accounts": list(owned) + list(proposed),
        "sightings": list(
            Sighting.objects.filter(account__owners=request.user).select_related("account")[:50]
        ),
        "form": form,
        "crisis": crisis_open(),
        "unwatchable": WatchKind.UNWATCHABLE,
    }
    return render(request, "watch/mine.html", context, status=status)


@login_required
@require_GET
def control_room_sightings(request):
    """The control room's "Seen during the freeze": the open crisis's sightings, newest first
    (htmx polls this every few seconds)."""
    _require(request, DCO, AUDITOR)
    return _sightings_list(request)


def _sightings_list(request):
    crisis = crisis_open()
    context = {
        "crisis": crisis,
        "sightings": selectors.sightings_of_crisis(crisis, limit=100) if crisis else [],
        "is_dco": has_role(request.user, DCO),
    }
    return render(request, "watch/_sightings_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def sighting_review(request, sighting_id):
    """The DCO marks a sighting acceptable or followed up, with a comment (its own page, so that
    the control room's live list never wipes a comment being written)."""
    _require(request, DCO)
    sighting = get_object_or_404(Sighting.objects.select_related("account", "crisis"), pk=sighting_id)
    form = ReviewForm(request.POST or None, initial={"status": sighting.status, "comment": sighting.comment})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.sighting_review(actor=request.user, sighting=sighting, **form.cleaned_data)
            except ServiceError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("Sighting marked."))
                return redirect(reverse("web:control") + "#sightings")
        status = 400
    return render(request, "watch/review.html", {"sighting": sighting, "form": form}, status=status)
