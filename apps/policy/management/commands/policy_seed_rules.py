from django.core.management.base import BaseCommand

from apps.policy.models import PolicyRule
from apps.policy.services import policy_rules_seed


class Command(BaseCommand):
    help = (
        "Create the staff guide's pre-publication rules that are missing (existing rules are kept; audited)."
    )

    def handle(self, *args, **options):
        created = policy_rules_seed(actor=None)
        self.stdout.write(f"{created} rule(s) created, {PolicyRule.objects.count()} in total.")
