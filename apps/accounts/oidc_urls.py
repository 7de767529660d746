"""Single sign-on routes under /oidc/ (404 unless an identity provider is configured)."""

from django.urls import path
from mozilla_django_oidc.views import OIDCLogoutView

from .oidc import SSOCallbackView, SSOStartView

urlpatterns = [
    path("authenticate/", SSOStartView.as_view(), name="oidc_authentication_init"),
    path("callback/", SSOCallbackView.as_view(), name="oidc_authentication_callback"),
    path("logout/", OIDCLogoutView.as_view(), name="oidc_logout"),
]
