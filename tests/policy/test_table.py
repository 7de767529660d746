"""The guide's rules against real-looking posts: verdict and exact codes, false positives included.

Each row: (text, network, account_kind, has_photo, crisis, verdict, codes). `crisis` is None (no
crisis), "freeze" (a crisis declared, freeze in force) or "after" (crisis open, freeze_until passed).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.crises.models import Crisis

P, OFF = "personal", "official"
LI = "network.linkedin"
FB = "network.measure"
X = "network.x_caution"

# fmt: off
CASES = [
    # --- Ordinary posts, network policy for personal accounts -------------------------------------
    ("Fière d'avoir contribué au lancement de SWOT ! Bravo à toute l'équipe.",
     "linkedin", P, False, None, "allowed", {LI}),
    ("Proud to share our new paper on ocean altimetry, published today in Nature.",
     "linkedin", P, False, None, "allowed", {LI}),
    ("Regardez cette superbe vidéo de l'agence sur Mars",
     "facebook", P, False, None, "warn", {FB, "photo.check"}),
    ("Coucher de soleil sur le pas de tir ce soir",
     "instagram", P, True, None, "warn", {FB, "photo.check"}),
    ("Resharing the agency's thread about tomorrow's launch window",
     "x", P, False, None, "warn", {X}),
    ("Nouvelle chaîne pour suivre notre mission : abonnez-vous !",
     "youtube", P, False, None, "blocked", {"network.video_dco_only"}),
    ("Day in the life of a space engineer #SpaceTok",
     "tiktok", P, False, None, "blocked", {"network.video_dco_only"}),
    ("Live ce soir : on code le logiciel de vol en direct",
     "twitch", P, False, None, "blocked", {"network.video_dco_only"}),
    ("Mon reportage sur le centre spatial guyanais",
     "dailymotion", P, False, None, "blocked", {"network.video_dco_only"}),
    ("Notre instrument a passé la revue de conception !",
     "mastodon", P, False, None, "blocked", {"network.official_only"}),
    ("Le résumé de la semaine spatiale, pour mes collègues",
     "whatsapp", P, False, None, "blocked", {"network.official_only"}),
    ("Le résumé de l'actualité spatiale de la semaine est en ligne.",
     "whatsapp", OFF, False, None, "allowed", set()),
    ("Lancement réussi ! Le satellite est sur son orbite.",
     "x", OFF, False, None, "allowed", set()),
    # --- Passwords: awareness is allowed (an info reminder), a disclosed secret is a block ----------
    ("Cybersécurité : pour le mois de la sensibilisation, changez votre mot de passe et activez "
     "la double authentification.",
     "linkedin", P, False, None, "allowed", {"confidential.password_mention", LI}),
    ("Security tip: use a password manager and never reuse passwords across sites.",
     "linkedin", P, False, None, "allowed", {"confidential.password_mention", LI}),
    ("MOTS DE PASSE : changez-les tous les ans, c'est la règle d'or !",
     "linkedin", P, False, None, "allowed", {"confidential.password_mention", LI}),
    ("Pour la démo, wifi invité : login invite, password: Xy12!kq9",
     "linkedin", P, False, None, "blocked", {"confidential.credential", "confidential.password_mention", LI}),
    ("mdp : Soleil2024 pour le partage de l'équipe",
     "facebook", P, False, None, "blocked", {"confidential.credential", "confidential.password_mention", FB}),
    ("Le mot de passe du serveur de test est Ariane#5, pratique non ?",
     "linkedin", P, False, None, "blocked", {"confidential.credential", "confidential.password_mention", LI}),
    ("Tableau de bord : https://admin:Hunter2@intranet.example.org/stats",
     "linkedin", P, False, None, "blocked", {"confidential.credential", LI}),
    # --- Restricted distribution, export control --------------------------------------------------
    ("Extrait du rapport (Diffusion Restreinte) sur la revue de qualification",
     "linkedin", P, False, None, "blocked", {"confidential.label", LI}),
    ("Secret-défense : je ne peux rien dire de plus sur ce programme",
     "linkedin", P, False, None, "blocked", {"confidential.label", LI}),
    ("CONFIDENTIEL DÉFENSE – ne circule qu'entre nous",  # noqa: RUF001
     "linkedin", P, False, None, "blocked", {"confidential.label", "confidential.mention", LI}),
    ("Voici la note DR de la revue de programme",
     "linkedin", P, False, None, "warn", {"confidential.dr_marker", LI}),
    ("Passionnante conférence du Dr Martin sur l'exobiologie",
     "linkedin", P, False, None, "allowed", {LI}),
    ("Ce composant est soumis à ITAR, je ne peux pas partager les plans",
     "linkedin", P, False, None, "blocked", {"export.control", "export.marking", LI}),
    ("Table ronde sur le contrôle des exportations dans le spatial européen",
     "linkedin", P, False, None, "warn", {"export.control", LI}),
    ("The EAR and ITAR regimes explained for students",
     "linkedin", P, False, None, "warn", {"export.control", LI}),
    ("Put your ear to the ground: the countdown has started",
     "linkedin", P, False, None, "allowed", {LI}),
    # --- Weaknesses and damage of equipment -------------------------------------------------------
    ("Le banc d'essai a révélé une faiblesse dans la structure du réservoir",
     "linkedin", P, False, None, "warn", {"equipment.weakness", LI}),
    ("Satellite damaged during transport, the team is assessing it",
     "linkedin", P, False, None, "warn", {"equipment.weakness", LI}),
    ("Défaillances en série sur le banc de test cette semaine…",
     "linkedin", P, False, None, "warn", {"equipment.weakness", LI}),
    ("Installation des panneaux solaires du satellite terminée",
     "linkedin", P, False, None, "allowed", {LI}),
    ("Dommage que vous ayez raté la conférence, le replay arrive bientôt !",
     "linkedin", P, False, None, "allowed", {LI}),
    ("Un seul photon détecté par notre instrument : une première",
     "linkedin", P, False, None, "allowed", {LI}),
    # --- Voice, neutrality, tone ------------------------------------------------------------------
    ("Au nom du CNES, je vous annonce le report du lancement",
     "linkedin", P, False, None, "warn", {"agency.voice", LI}),
    ("Speaking on behalf of the agency: the launch is postponed.",
     "x", P, False, None, "warn", {"agency.voice", X}),
    ("Au nom du CNES, merci à tous nos partenaires industriels",
     "facebook", OFF, False, None, "allowed", set()),
    ("Votez pour la réforme ! Les élections approchent",
     "linkedin", P, False, None, "warn", {LI, "opinion.political"}),
    ("Votez pour le nom du futur rover martien !",
     "linkedin", P, False, None, "allowed", {LI}),
    ("Mon Dieu, quelle image de Saturne ce matin",
     "linkedin", P, False, None, "allowed", {LI}),
    ("I woke up at 4am to watch the launch, worth it",
     "x", P, False, None, "warn", {X}),
    ("Que Dieu bénisse cette mission et tout l'équipage",
     "linkedin", P, False, None, "warn", {LI, "opinion.religious_moral"}),
    ("My personal view on abortion, as a scientist",
     "facebook", P, False, None, "warn", {FB, "opinion.religious_moral"}),
    ("C'est faux : la Terre n'est pas plate, et voici pourquoi",
     "linkedin", P, False, None, "warn", {LI, "tone.polemic"}),
    ("Ignoring the trolls in the comments today",
     "x", P, False, None, "warn", {X, "tone.polemic"}),
    # --- Photos, privacy, embargo wording, project accounts ----------------------------------------
    ("Photo d'équipe devant la salle blanche",
     "linkedin", P, True, None, "warn", {LI, "photo.check"}),
    ("Behind the scenes at the integration hall",
     "linkedin", P, False, None, "warn", {LI, "photo.check"}),
    ("Nouvelle étape franchie pour l'équipe",
     "linkedin", P, True, None, "warn", {LI, "photo.check"}),
    ("Pour participer à l'atelier, appelez-moi au 06 12 34 56 78",
     "linkedin", P, False, None, "warn", {LI, "privacy.personal_data"}),
    ("Résultats sous embargo jusqu'à jeudi, restez connectés",
     "linkedin", P, False, None, "warn", {"embargo.mention", LI}),
    ("Suivez le nouveau compte du projet Lunar sur X !",
     "facebook", P, False, None, "warn", {"account.dedicated", FB}),
    # --- During a crisis --------------------------------------------------------------------------
    ("Fier de notre nouvelle publication scientifique",
     "linkedin", P, False, "freeze", "blocked", {"crisis.freeze", LI}),
    ("Notre communiqué sur l'incident",
     "x", OFF, False, "freeze", "blocked", {"crisis.freeze_official"}),
    ("Contrairement aux rumeurs, il n'y a eu aucun blessé",
     "x", P, False, "freeze", "blocked", {"crisis.denial", "crisis.freeze", X}),
    ("Fake news ! Nous démentons formellement",
     "facebook", P, False, "freeze", "blocked", {"crisis.denial", "crisis.freeze", FB}),
    ("Retour sur notre atelier de la semaine",
     "linkedin", P, False, "after", "warn", {"crisis.after_freeze", LI}),
    ("This is false, we deny these claims",
     "x", P, False, "after", "blocked", {"crisis.after_freeze", "crisis.denial", X}),
    ("Reprise de nos publications habituelles",
     "instagram", OFF, False, "after", "warn", {"crisis.after_freeze"}),
]
# fmt: on


def test_the_table_is_big_enough():
    assert len(CASES) >= 40
    assert {c[5] for c in CASES} == {"allowed", "warn", "blocked"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "network", "account_kind", "has_photo", "during", "verdict", "codes"),
    CASES,
    ids=[f"{i:02d}-{c[0][:30]}" for i, c in enumerate(CASES)],
)
def test_post(request, check, text, network, account_kind, has_photo, during, verdict, codes):
    if during:
        crisis = request.getfixturevalue("crisis")
        if during == "after":
            now = timezone.now()  # the freeze lasts at least 24 h: move both ends back
            Crisis.objects.filter(pk=crisis.pk).update(
                declared_at=now - timedelta(hours=25), freeze_until=now - timedelta(minutes=1)
            )
    result = check(text, network, account_kind, has_photo)
    assert (result.verdict, {r.code for r in result.reasons}) == (verdict, codes)
