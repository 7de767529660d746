from django.core.management.base import BaseCommand

from apps.policy.guide import seed_rules
from apps.policy.models import PolicyRule


class Command(BaseCommand):
    help = "Create the staff guide's pre-publication rules that are missing (existing rules are kept)."

    def handle(self, *args, **options):
        created = seed_rules(PolicyRule)
        self.stdout.write(f"{created} rule(s) created, {PolicyRule.objects.count()} in total.")
