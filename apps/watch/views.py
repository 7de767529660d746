"""Pages of the watch: the DCO's registry, "my professional accounts", and the control room's
live "Seen during the freeze" list. Thin: forms in, services called, ServiceError shown. What a
person may do is asked from the services (watch_page_actions, *_allowed_actions): a page offers
only that, marked data-action / data-object, and refuses the rest with 403."""

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.csv_import import read_csv
from apps.core.errors import NotAllowedError, ServiceError
from apps.core.pages import submit_form
from apps.crises.selectors import crisis_open

from . import selectors, services
from .forms import AccountForm, DCOAccountForm, ImportForm, ReviewForm
from .models import Sighting, WatchedAccount, WatchKind

MAX_IMPORT_BYTES = 2 * 1024 * 1024


def _refuse_unless(allowed: bool):
    if not allowed:
        raise PermissionDenied


@login_required
@require_http_methods(["GET", "POST"])
def registry(request):
    """The DCO's page: every account, its health, proposals to decide, a form and a CSV import."""
    _refuse_unless(selectors.sees_everything(user=request.user))
    page_actions = services.watch_page_actions(user=request.user)
    may_register = "watch.account_create" in page_actions
    form = DCOAccountForm(request.POST or None) if may_register else None
    status = 200
    if request.method == "POST":
        _refuse_unless(may_register)
        if submit_form(request, form, services.watched_account_create, on_field=True, actor=request.user):
            messages.success(request, _("Account registered."))
            return redirect("watch:registry")
        status = 400
    accounts = list(selectors.watched_accounts_for(user=request.user))
    for account in accounts:
        account.actions = services.watched_account_allowed_actions(user=request.user, account=account)
    context = {
        "accounts": [a for a in accounts if a.registration == "accepted"],
        "proposed": [a for a in accounts if a.registration == "proposed"],
        "rejected": [a for a in accounts if a.registration == "rejected"],
        "health": selectors.watch_health(),
        "form": form,
        "import_form": ImportForm() if "watch.import" in page_actions else None,
        "page_actions": page_actions,
        "unwatchable": WatchKind.UNWATCHABLE,
    }
    return render(request, "watch/registry.html", context, status=status)


@login_required
@require_POST
def account_decide(request, account_id):
    _refuse_unless("watch.account_accept" in services.watch_role_actions(user=request.user))
    account = get_object_or_404(WatchedAccount, pk=account_id)
    accept = request.POST.get("decision") == "accept"
    try:
        services.watched_account_decide(actor=request.user, account=account, accept=accept)
    except NotAllowedError as exc:
        raise PermissionDenied from exc
    except ServiceError as exc:  # decided meanwhile (by another DCO): said, not a 403
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Account accepted.") if accept else _("Proposal rejected."))
    return redirect("watch:registry")


@login_required
@require_POST
def account_active(request, account_id):
    _refuse_unless("watch.account_update" in services.watch_role_actions(user=request.user))
    account = get_object_or_404(WatchedAccount, pk=account_id)
    allowed = services.watched_account_allowed_actions(user=request.user, account=account)
    _refuse_unless("watch.account_update" in allowed)
    try:
        services.watched_account_update(
            actor=request.user, account=account, data={"active": request.POST.get("active") == "1"}
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("watch:registry")


@login_required
@require_POST
def account_import(request):
    _refuse_unless("watch.import" in services.watch_page_actions(user=request.user))
    form = ImportForm(request.POST, request.FILES)
    errors = []
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            errors = [(0, _("The file is larger than 2 MB."))]
        else:
            try:
                text = upload.read().decode("utf-8-sig")
                columns, rows = read_csv(io.StringIO(text, newline=""))
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
        if submit_form(request, form, services.watched_account_propose, on_field=True, actor=request.user):
            messages.success(request, _("Account proposed: the communication directorate will validate it."))
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
    _refuse_unless(selectors.sees_everything(user=request.user))
    crisis = crisis_open()
    sightings = selectors.sightings_of_crisis(crisis=crisis, limit=100) if crisis else []
    for sighting in sightings:
        sighting.actions = services.sighting_allowed_actions(user=request.user, sighting=sighting)
    context = {"crisis": crisis, "sightings": sightings}
    return render(request, "watch/_sightings_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def sighting_review(request, sighting_id):
    """The DCO marks a sighting acceptable or followed up, with a comment (its own page, so that
    the control room's live list never wipes a comment being written)."""
    _refuse_unless("watch.sighting_review" in services.watch_role_actions(user=request.user))
    sighting = get_object_or_404(Sighting.objects.select_related("account", "crisis"), pk=sighting_id)
    allowed = services.sighting_allowed_actions(user=request.user, sighting=sighting)
    _refuse_unless("watch.sighting_review" in allowed)
    form = ReviewForm(request.POST or None, initial={"status": sighting.status, "comment": sighting.comment})
    status = 200
    if request.method == "POST":
        if submit_form(
            request, form, services.sighting_review, on_field=True, actor=request.user, sighting=sighting
        ):
            messages.success(request, _("Sighting marked."))
            return redirect(reverse("web:control") + "#sightings")
        status = 400
    return render(request, "watch/review.html", {"sighting": sighting, "form": form}, status=status)
