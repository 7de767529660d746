"""Sections other apps add to the crisis report.

    register_report_section("statements", lambda *, crisis: {...})   # from an AppConfig.ready()

`crisis_report(crisis=crisis)` includes every registered section under its name.
"""

from collections.abc import Callable

_SECTIONS: dict[str, Callable] = {}


def register_report_section(name: str, fn: Callable) -> None:
    """fn(*, crisis) -> a JSON-able dict, called fn(crisis=crisis). Registering a name again
    replaces it (reloads, tests)."""
    _SECTIONS[name] = fn


def report_sections() -> dict[str, Callable]:
    return dict(_SECTIONS)


# Audit entries other apps add to the crisis timeline (statements: each statement's entries):
# fn(*, crisis) -> a Q over AuditEntry. One timeline for the API report and the pages.
_TIMELINE_SUBJECTS: dict[str, Callable] = {}


def register_timeline_subjects(name: str, fn: Callable) -> None:
    """fn(*, crisis) -> Q on apps.audit.models.AuditEntry. Registering a name again replaces it."""
    _TIMELINE_SUBJECTS[name] = fn


def timeline_subjects() -> dict[str, Callable]:
    return dict(_TIMELINE_SUBJECTS)
