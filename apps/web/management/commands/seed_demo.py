"""Demo data for a local run: one user per role, the official accounts, a week of posts.

Idempotent: users, accounts and posts are found again by their natural keys and never doubled;
re-running tops the calendar up to a week from now. Rows are made through the apps' services,
so each one is audited like any other change.
"""

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import StaffProfile
from apps.accounts.roles import ADMIN, AUDITOR, DCO, EMPLOYEE, EXPERT, SPOKESPERSON, user_roles
from apps.accounts.services import staff_import, user_create, user_password_set, user_update
from apps.posts.models import ConnectorKind, Network, Post, SocialAccount
from apps.posts.services import post_create, social_account_create

User = get_user_model()

# username, roles, first name, last name, department, language
DEMO_USERS = [
    ("dco", [DCO, EMPLOYEE], "Camille", "Martin", "Communication", "fr"),
    ("dco2", [DCO, EMPLOYEE], "Hugo", "Bernard", "Communication", "fr"),
    ("spokesperson", [SPOKESPERSON, EMPLOYEE], "Léa", "Dubois", "Direction", "fr"),
    ("expert", [EXPERT, EMPLOYEE], "Samuel", "Okafor", "Launchers", "en"),
    ("employee", [EMPLOYEE], "Inès", "Moreau", "Earth observation", "fr"),
    ("auditor", [AUDITOR], "Paul", "Laurent", "Internal audit", "fr"),
    # accounts (issue 10): people are administered by a user administrator, never by a dco.
    ("useradmin", [ADMIN, EMPLOYEE], "Nadia", "Haddad", "Information systems", "fr"),
]

# A few more staff, through the directory import (no password: they would sign in by SSO).
DEMO_STAFF = [
    ("nadia.haddad@agency.example", "Nadia Haddad", "Launchers", "fr", "employee"),
    ("tom.baker@agency.example", "Tom Baker", "Earth observation", "en", "employee"),
    ("chloe.petit@agency.example", "Chloé Petit", "Space science", "fr", "employee;expert"),
    ("arjun.rao@agency.example", "Arjun Rao", "Ground segment", "en", "employee"),
    ("julie.roux@agency.example", "Julie Roux", "Human resources", "fr", "employee"),
    ("marc.fontaine@agency.example", "Marc Fontaine", "Communication", "fr", "employee"),
]

# Placeholders under .invalid (RFC 2606: never resolves). outbound refuses loopback targets, and
# accepts a name that does not resolve; each send is then refused before any connection.
PLACEHOLDER = "https://demo.invalid"

# The watch's demo registry: network, kind, public URL, owner (a demo user), department.
DEMO_WATCHED = [
    ("mastodon", "mastodon", "https://social.demo.invalid/@lab_optics", "expert", "Launchers"),
    (
        "bluesky",
        "bluesky",
        "https://bsky.app/profile/earth-obs.demo.invalid",
        "employee",
        "Earth observation",
    ),
    ("blog", "feed", "https://blog.demo.invalid/feed.xml", "expert", "Space science"),
    (
        "linkedin",
        "unwatchable",
        "https://www.linkedin.com/company/demo-ground-segment",
        "employee",
        "Ground segment",
    ),
]

POST_BODIES = [
    "Lancement réussi ! Merci à toutes les équipes mobilisées cette nuit.",
    "Nouvelles images de la Terre vues par notre satellite d'observation.",
    "Portes ouvertes samedi : venez découvrir nos laboratoires.",
    "Our ground station team explains how we talk to satellites, in 60 seconds.",
    "Offre de stage : rejoignez l'équipe lanceurs pour six mois.",
    "Live Q&A with our astronauts on Thursday at 18:00 CET.",
    "Retour sur le colloque climat et espace de la semaine dernière.",
    "Behind the scenes: testing a solar panel in the vacuum chamber.",
    "Nos chercheuses à l'honneur pour la journée des femmes de science.",
    "Webinaire : comment les données satellitaires aident l'agriculture.",
]


def _password(username):
    return f"{username}-demo-2026"


class Command(BaseCommand):
    help = "Create demo users (one per role), official accounts and a week of scheduled posts."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="days of posts from now (default 7)")
        parser.add_argument(
            "--force",
            action="store_true",
            help="run even with a production SECRET_KEY (demo users have published passwords)",
        )

    def handle(self, *args, **options):
        production = not settings.DEBUG and not settings.SECRET_KEY.startswith("django-insecure-local-only")
        if production and not options["force"]:
            raise CommandError(
                "This looks like a production installation (SECRET_KEY set, DEBUG off): demo "
                "users have well-known passwords. Use --force to seed anyway."
            )
        with transaction.atomic():
            users = self._users()
            self._staff(actor=users["useradmin"])
            accounts = self._accounts(actor=users["dco"])
            self._mandate(actor=users["dco"], user=users["spokesperson"])
            created = self._posts(actor=users["dco"], accounts=accounts, days=options["days"])
            watched = self._watched(actor=users["dco"], users=users)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  official accounts: {len(accounts)}; posts created now: {created}")
        self.stdout.write(f"  watched professional accounts: {len(watched)}")
        self.stdout.write("  Demo users (username / password / roles):")
        for username, roles, *_rest in DEMO_USERS:
            self.stdout.write(f"    {username:<13} {_password(username):<24} {', '.join(roles)}")
        self.stdout.write(
            f"  Sign in at {settings.CRISISCOMM_BASE_URL}/login/ or /admin/ (dco, dco2, useradmin)."
        )

    def _users(self):
        """Each demo user made (or put back) through the accounts services, by the system: every
        write has its audit entry, and a re-run that finds them as they were writes none."""
        users = {}
        for username, roles, first, last, department, language in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(
                    actor=None,
                    username=username,
                    password=_password(username),
                    email=f"{username}@agency.example",
                    first_name=first,
                    last_name=last,
                    door="seed_demo",
                )
            elif not user.check_password(_password(username)):
                user_password_set(actor=None, user=user, password=_password(username))
            data = {"roles": user_roles(user) | set(roles)}  # the dco role also opens the admin
            if not StaffProfile.objects.filter(user=user).exists():
                data["profile"] = {"department": department, "language": language}
            users[username] = user_update(actor=None, user=user, data=data, door="seed_demo")
        return users

    def _staff(self, *, actor):
        rows = [
            {"email": e, "name": n, "department": d, "language": lang, "roles": r}
            for e, n, d, lang, r in DEMO_STAFF
        ]
        staff_import(actor=actor, rows=rows, source="seed_demo")

    def _accounts(self, *, actor):
        accounts = []
        for network in Network:
            handle = f"@agency-{network.value}"
            account = SocialAccount.objects.filter(network=network.value, handle=handle).first()
            if account is None:
                if network == Network.MASTODON:
                    connector = ConnectorKind.MASTODON
                    config = {"base_url": PLACEHOLDER, "access_token": "demo-token"}
                elif network == Network.WHATSAPP:
                    connector = ConnectorKind.WEBHOOK
                    config = {"url": f"{PLACEHOLDER}/hooks/whatsapp", "secret": "demo-secret"}
                else:
                    connector = ConnectorKind.MANUAL
                    config = {"assignee": "dco"}
                account = social_account_create(
                    actor=actor, network=network.value, handle=handle, connector=connector, config=config
                )
            accounts.append(account)
        return accounts

    def _watched(self, *, actor, users):
        """The watch's registry (issue 14): one professional account of each kind, owned by demo
        staff; found again by URL on a re-run. Hosts under .invalid: a sweep shows their error."""
        from apps.watch.models import WatchedAccount
        from apps.watch.services import watched_account_create

        accounts = []
        for network, kind, url, owner, department in DEMO_WATCHED:
            account = WatchedAccount.objects.filter(url=url).first()
            if account is None:
                account = watched_account_create(
                    actor=actor,
                    network=network,
                    kind=kind,
                    url=url,
                    owners=[users[owner]],
                    department=department,
                )
            accounts.append(account)
        return accounts

    def _mandate(self, *, actor, user):
        try:
            from apps.statements.models import Mandate
            from apps.statements.services import mandate_grant
        except ImportError:  # statements app not there: no mandate to grant
            return
        if not Mandate.objects.active().filter(user=user).exists():
            mandate_grant(actor=actor, user=user, valid_until=timezone.now() + timedelta(days=90))

    def _posts(self, *, actor, accounts, days):
        """5 to 10 posts a day between 08:00 and 20:00 Paris time, the same slots on every run."""
        paris = ZoneInfo(settings.TIME_ZONE)
        now = timezone.now()
        today = now.astimezone(paris).date()
        active = [a for a in accounts if a.is_active]
        existing = set(
            Post.objects.filter(account__in=active, scheduled_at__gte=now).values_list(
                "account_id", "scheduled_at"
            )
        )
        created = 0
        for offset in range(days + 1):
            day = today + timedelta(days=offset)
            rng = random.Random(day.toordinal())
            for _n in range(rng.randint(5, 10)):
                slot = datetime.combine(day, time(8, 0), tzinfo=paris) + timedelta(
                    minutes=15 * rng.randint(0, 48)
                )
                account = rng.choice(active)
                body = rng.choice(POST_BODIES)
                if slot <= now or slot > now + timedelta(days=days):
                    continue
                if (account.pk, slot) in existing:
                    continue
                post_create(actor=actor, account=account, body=body, scheduled_at=slot)
                existing.add((account.pk, slot))
                created += 1
        return created
