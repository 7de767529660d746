from django.urls import path

from . import views

urlpatterns = [
    path("", views.precheck_page, name="precheck"),
    path("rulings/", views.rulings_page, name="policy-rulings"),
    path("rulings/record/", views.ruling_record_page, name="policy-ruling-record"),
    path("figures/", views.figures_page, name="policy-figures"),
]
