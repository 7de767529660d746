from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render


def home(request):
    if not request.user.is_authenticated:
        return auth_views.LoginView.as_view()(request)
    return render(request, "web/home.html")


@login_required
def control_room(request):
    return render(request, "web/home.html")


@login_required
def calendar_week(request):
    return render(request, "web/home.html")


@login_required
def statement_list(request):
    return render(request, "web/home.html")


@login_required
def inbox(request):
    return render(request, "web/home.html")
