"""Staff with profiles, for the notification tests."""

from apps.accounts.models import StaffProfile
from tests.factories import UserFactory


def make_staff(n, *, prefix="staff", language="fr", department="Research", **fields):
    users = []
    for i in range(n):
        user = UserFactory(username=f"{prefix}{i}", **fields)
        StaffProfile.objects.create(
            user=user,
            language=language if isinstance(language, str) else language[i % len(language)],
            department=department if isinstance(department, str) else department[i % len(department)],
        )
        users.append(user)
    return users
