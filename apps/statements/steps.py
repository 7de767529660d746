"""Reads about validation chains and their steps: who a step names, who may decide it."""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch

from apps.core.roles import ADMIN, has_role

from .models import ChainStep, ValidationChain


def chain_default() -> ValidationChain | None:
    return ValidationChain.objects.filter(is_default=True).first()


def chain_list():
    return ValidationChain.objects.prefetch_related(
        Prefetch("steps", queryset=ChainStep.objects.order_by("order").prefetch_related("users"))
    )


def step_people_ids(*, step: ChainStep) -> set[int]:
    """Everyone the step names: its explicit people, else every active holder of its role."""
    named = {u.pk for u in step.users.all() if u.is_active}
    if named or not step.role or step.role == ADMIN:  # the user administrator decides nothing
        return named
    return set(
        get_user_model().objects.filter(is_active=True, groups__name=step.role).values_list("pk", flat=True)
    )


def step_allows(*, step: ChainStep, user) -> bool:
    if not user.is_active:
        return False
    # .all(): served by a prefetch of the step's users when the caller made one.
    named = [u.pk for u in step.users.all()]
    if named:
        return user.pk in named
    return bool(step.role) and step.role != ADMIN and has_role(user, step.role)
