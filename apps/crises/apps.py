from django.apps import AppConfig


class CrisesConfig(AppConfig):
    name = "apps.crises"
    label = "crises"
