"""What every page needs: the crisis banner, the DCO contact, the user's roles for the menu."""

from django.conf import settings

from apps.accounts.roles import ROLES, user_roles
from apps.crises.selectors import crisis_open


def crisiscomm(request):
    roles = user_roles(getattr(request, "user", None))
    return {
        # One indexed query per page: the banner must never be stale while a crisis is open.
        "banner_crisis": crisis_open(),
        "dco_contact": settings.CRISISCOMM_DCO_CONTACT,
        "nav_roles": {role: role in roles for role in ROLES},
    }
