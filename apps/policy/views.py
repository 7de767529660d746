"""The staff page for the pre-publication check: the same check as POST /api/v1/precheck/."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_http_methods

from . import selectors
from .forms import PrecheckForm


@login_required
@require_http_methods(["GET", "POST"])
def precheck_page(request):
    language = selectors.caller_language(request)
    with translation.override(language):
        result = None
        if request.method == "POST":
            form = PrecheckForm(request.POST)
            if form.is_valid():
                result = selectors.precheck(**form.cleaned_data)
        else:
            form = PrecheckForm()
        context = {
            "form": form,
            "result": result,
            "verdict_label": selectors.VERDICT_LABELS.get(result.verdict) if result else None,
        }
        response = render(request, "policy/precheck.html", context, status=400 if form.errors else 200)
    response["Content-Language"] = language
    return response
