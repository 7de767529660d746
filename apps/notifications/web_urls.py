"""Pages outside the API, mounted at /notices/: the signed one-click acknowledgement link."""

from django.urls import path

from . import views

app_name = "notices"

urlpatterns = [
    path("ack/<str:token>/", views.acknowledge_link, name="ack"),
]
