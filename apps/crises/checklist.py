"""The resumption checklist: what the DCO confirms before requesting a lift."""

from django.utils.translation import gettext_lazy as _

RESUMPTION_CHECKLIST = [
    ("frozen_posts_reviewed", _("Every frozen post has been reviewed")),
    ("statement_published", _("The approved statement has been published")),
    ("spokespersons_briefed", _("Spokespersons have been briefed on the return to normal")),
    ("monitoring_in_place", _("Monitoring of reactions is in place")),
]


def checklist_items() -> list[dict]:
    """[{code, label}] in the active language."""
    return [{"code": code, "label": str(label)} for code, label in RESUMPTION_CHECKLIST]


def checklist_codes() -> list[str]:
    return [code for code, _label in RESUMPTION_CHECKLIST]
