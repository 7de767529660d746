import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import ServiceError
from apps.policy import selectors, services


class Command(BaseCommand):
    help = (
        "Record a corpus of rulings (default: the repository's, apps/policy/fixtures/rulings.json) in the "
        "name of a DCO user; all or nothing, each ruling audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="username", required=True, help="the DCO recording them")
        parser.add_argument("--file", type=Path, default=selectors.CORPUS_PATH)

    def handle(self, *args, username, file, **options):
        try:
            actor = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user {username!r}.") from exc
        try:
            entries = json.loads(file.read_text(encoding="utf-8"))
            rulings = services.rulings_import(actor=actor, entries=entries)
        except (OSError, ValueError) as exc:
            raise CommandError(f"{file}: {exc}") from exc
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        figures = selectors.figures_of(of="recorded")
        self.stdout.write(
            f"{len(rulings)} ruling(s) recorded; "
            f"the check agrees with {figures['agreed']}/{figures['total']}."
        )
