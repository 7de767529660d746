"""What every page needs: the crisis banner, the DCO contact, the user's roles for the menu."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from apps.accounts.roles import ROLES, user_roles
from apps.crises.selectors import crisis_open
from apps.statements.models import Mandate


def _spokespersons(crisis) -> list[str]:
    """Who speaks for the organisation in this crisis: holders of an active mandate covering it."""
    names = []
    for mandate in (
        Mandate.objects.active().select_related("user").order_by("user__last_name", "user__username")
    ):
        if mandate.covers_topics(crisis.topics):
            name = mandate.user.get_full_name() or mandate.user.get_username()
            if name not in names:
                names.append(name)
    return names[:10]


def crisiscomm(request):
    roles = user_roles(getattr(request, "user", None))
    crisis = crisis_open()  # one indexed query: the banner is never stale while a crisis is open
    return {
        "banner_crisis": crisis,
        # Only queried when a page shows the banner to a signed-in person.
        "banner_spokespersons": SimpleLazyObject(lambda: _spokespersons(crisis) if crisis else []),
        "dco_contact": settings.CRISISCOMM_DCO_CONTACT,
        "nav_roles": {role: role in roles for role in ROLES},
    }
