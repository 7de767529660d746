from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"

    def ready(self):
        from . import signals, tasks  # noqa: F401 - receivers and the worker's stop hook
