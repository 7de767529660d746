from django.urls import path

from . import views

app_name = "watch"

urlpatterns = [
    path("", views.registry, name="registry"),
    path("mine/", views.my_accounts, name="mine"),
    path("accounts/<int:account_id>/decide/", views.account_decide, name="decide"),
    path("accounts/<int:account_id>/active/", views.account_active, name="active"),
    path("import/", views.account_import, name="import"),
    path("sightings/", views.control_room_sightings, name="sightings"),
    path("sightings/<int:sighting_id>/review/", views.sighting_review, name="review"),
]
