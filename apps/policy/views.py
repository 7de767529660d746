"""The staff page for the pre-publication check (the same check as POST /api/v1/precheck/), and the
DCO's pages for rulings: record one on the draft just checked, list and export them, and the figures
of agreement between the check and the rulings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.roles import AUDITOR, DCO, has_role
from apps.core.pages import submit_form

from . import selectors, services
from .forms import PrecheckForm, RulingForm


def _render(request, template, context, *, status=200):
    language = selectors.caller_language(request=request)
    with translation.override(language):
        response = render(request, template, context, status=status)
    response["Content-Language"] = language
    return response


@login_required
@require_http_methods(["GET", "POST"])
def precheck_page(request):
    language = selectors.caller_language(request=request)
    can_rule = "policy.ruling_record" in services.policy_allowed_actions(user=request.user)
    with translation.override(language):
        result = None
        ruling_form = None
        if request.method == "POST":
            form = PrecheckForm(request.POST)
            if form.is_valid():
                result = selectors.precheck(**form.cleaned_data)
                if can_rule:
                    ruling_form = RulingForm(
                        initial={
                            **form.cleaned_data,
                            "crisis": result.crisis is not None,
                            "verdict": result.verdict,
                            "source": "check",
                        }
                    )
        else:
            form = PrecheckForm()
        context = {
            "form": form,
            "result": result,
            "verdict_label": selectors.VERDICT_LABELS.get(result.verdict) if result else None,
            "can_rule": can_rule,
            "ruling_form": ruling_form,
            "recent_rulings": selectors.ruling_list()[:5] if can_rule else [],
        }
        response = render(request, "policy/precheck.html", context, status=400 if form.errors else 200)
    response["Content-Language"] = language
    return response


def _require(request, *roles):
    if not has_role(request.user, *roles):
        raise PermissionDenied


@login_required
@require_POST
def ruling_record_page(request):
    """The ruling form's target (the pre-check page, or the rulings page for a draft typed by hand)."""
    if "policy.ruling_record" not in services.policy_allowed_actions(user=request.user):
        raise PermissionDenied
    form = RulingForm(request.POST)
    ruling = submit_form(request, form, services.ruling_record, on_field=True, actor=request.user)
    if ruling:
        with translation.override(selectors.caller_language(request=request)):
            messages.success(request, _("Ruling #%(id)s recorded.") % {"id": ruling.pk})
        return redirect("policy-rulings")
    return _render(request, "policy/rulings.html", _rulings_context(request, form), status=400)


def _rulings_context(request, form=None):
    page = Paginator(selectors.ruling_list(), 50).get_page(request.GET.get("page"))
    return {
        "page": page,
        "can_rule": "policy.ruling_record" in services.policy_allowed_actions(user=request.user),
        "ruling_form": form if form is not None else RulingForm(initial={"source": "manual"}),
    }


@login_required
@require_http_methods(["GET"])
def rulings_page(request):
    _require(request, DCO, AUDITOR)
    return _render(request, "policy/rulings.html", _rulings_context(request))


@login_required
@require_http_methods(["GET"])
def figures_page(request):
    """Agreement between the check and the rulings, overall and per rule; `?of=corpus` for the
    repository's corpus."""
    _require(request, DCO, AUDITOR)
    of = "corpus" if request.GET.get("of") == "corpus" else "recorded"
    figures = selectors.figures_of(of=of)
    percent = 100 * figures["agreement"] if figures["total"] else None
    return _render(request, "policy/figures.html", {"figures": figures, "of": of, "percent": percent})
