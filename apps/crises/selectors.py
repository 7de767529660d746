from .models import Crisis, CrisisStatus


def crisis_open() -> Crisis | None:
    """The crisis in force (active, or lifting but not yet closed), if any."""
    return Crisis.objects.filter(is_open=True).first()


def crisis_active() -> Crisis | None:
    return Crisis.objects.filter(is_open=True, status=CrisisStatus.ACTIVE).first()
