"""People who become staff while a crisis is open get its notices on arrival: a user created
active (first single sign-on login, the admin, an import that saves one by one) or activated.
Imports that bulk-insert send no signal; the reminder beat's sweep (services.notices_for_arrivals)
catches them up within minutes."""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from . import services

User = get_user_model()


@receiver(pre_save, sender=User, dispatch_uid="notifications.user_was_inactive")
def remember_if_inactive(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or instance.pk is None:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    was_active = User.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
    instance._crisiscomm_was_inactive = not was_active


@receiver(post_save, sender=User, dispatch_uid="notifications.user_arrives")
def give_arrivals_their_notices(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    services.user_saved(user=instance, created=created, update_fields=update_fields)
