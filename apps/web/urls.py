from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

web_patterns = [
    path("", views.home, name="home"),
    path("control/", views.control_room, name="control"),
    path("calendar/", views.calendar_week, name="calendar"),
    path("statements/", views.statement_list, name="statements"),
    path("inbox/", views.inbox, name="inbox"),
]

urlpatterns = [
    # Django's auth views under their usual names, outside the namespace: LOGIN_URL = "login".
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include((web_patterns, "web"))),
]
