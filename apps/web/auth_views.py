"""Django's own login and logout views, with a message for each (every action says what it did).
Password guessing is stopped by django-axes for every door at once (settings.AXES_*): a locked-out
(account, address) gets the lockout page (apps/accounts/lockout.py), even with the right password."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.utils.translation import gettext as _


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Signed in as %(name)s.") % {"name": form.get_user().get_username()})
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You are signed out."))
        return response
