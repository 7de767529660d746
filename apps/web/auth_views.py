"""Django's own login and logout views, with a message for each (every action says what it did),
and the same guard against password guessing as the token endpoint (apps.accounts.api)."""

import hashlib

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.utils.translation import gettext as _

from apps.accounts.api import TOKEN_FAILURE_WINDOW, TOKEN_MAX_FAILURES


def _failure_key(request):
    username = str(request.POST.get("username", "")).strip().lower()[:150]
    digest = hashlib.sha256(f"{request.META.get('REMOTE_ADDR', '')}|{username}".encode()).hexdigest()
    return f"web-login-failures:{digest}"


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        if cache.get(_failure_key(request), 0) >= TOKEN_MAX_FAILURES:
            # Not even checked: the password is not tried while the lock lasts.
            messages.error(request, _("Too many failed sign-in attempts; try again later."))
            return self.render_to_response(
                self.get_context_data(form=self.get_form_class()(request)), status=429
            )
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        key = _failure_key(self.request)
        cache.add(key, 0, TOKEN_FAILURE_WINDOW)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, TOKEN_FAILURE_WINDOW)
        return super().form_invalid(form)

    def form_valid(self, form):
        cache.delete(_failure_key(self.request))
        response = super().form_valid(form)
        messages.success(self.request, _("Signed in as %(name)s.") % {"name": form.get_user().get_username()})
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You are signed out."))
        return response
