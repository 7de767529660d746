"""The Celery app `crisiscomm` (`celery -A crisiscomm worker|beat`)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crisiscomm.settings")

app = Celery("crisiscomm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
