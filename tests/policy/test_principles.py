"""The guide's two principles (issue 16), on the rules as installed, with the neighbours they must
not catch.

1. A disclosed secret is never a warning: a password, passphrase, access or door code, a login shown
   in a photo description, in French or English and their abbreviations, is `blocked`; talking about
   passwords (advice, awareness month) stays `allowed`.
2. Relaying the agency's official statement as it stands lifts the crisis freeze (`warn`: "share it as
   is, add nothing"); adding an opinion, a denial or a reply is `blocked`.

Crisis cases use `crisis_rules=True`, the check as the watch calls it: the freeze's rules without a
declared crisis.
"""

import pytest
from django.utils import translation

from apps.policy import selectors
from apps.policy.models import PolicyRule

pytestmark = pytest.mark.django_db


def run(text, *, network="linkedin", account_kind="personal", crisis=False, has_photo=False, language="en"):
    with translation.override(language):
        return selectors.precheck(
            network=network, text=text, account_kind=account_kind, has_photo=has_photo, crisis_rules=crisis
        )


def codes(result):
    return {reason.code for reason in result.reasons}


SECRETS = [
    "Wifi de la conf : mdp Ariane2026!",
    "mdp : soleil (pour le partage d'équipe)",
    "Le mot de passe du serveur de test est Ariane#5, pratique non ?",
    "The guest wifi password is Jupiter-Icy-Moons, enjoy the workshop!",
    "Login: jdupont / Password: Lune2024",
    "Pour la démo, identifiants : demo / Kourou#2026",
    "Nouvelle passphrase du coffre partagé : « cheval-agrafe-batterie-correct »",
    "Phrase de passe : « la lune est un fromage »",
    "Le code de la porte du labo est 4521, passez quand vous voulez",
    "Code d'accès au bâtiment : 4B7Z9, valable toute la semaine",
    "Digicode 4512B pour l'atelier de jeudi",
    "Door code for the clean room: 7391#",
    "Passcode 0000 for the visitors' gate",
    "PIN: 8841, ne le dites à personne",
    "Mdp de la cellule de crise : Crise2026!",
    "Tableau de bord : https://admin:Hunter2@intranet.example.org/stats",
]
SECRETS_IN_PHOTOS = [
    "Photo de l'équipe devant le tableau blanc, on voit même notre mot de passe du serveur en haut à gauche",
    "Selfie at my desk, my login is visible on the screen but who cares",
    "Photo de l'atelier : on aperçoit le tableau avec les identifiants du labo",
    "Behind the scenes: the whiteboard with our wifi password made it into the picture",
    "Mes identifiants de l'intranet sont sur le post-it de mon écran, pratique pour les stagiaires",
    "Le post-it avec le code d'accès du local est bien lisible sur la photo",
]
ABOUT_PASSWORDS = [
    "Mois de la cybersécurité : changez vos mots de passe et activez la double authentification !",
    "Cybersecurity Awareness Month: never reuse your passwords, use a password manager.",
    "Un bon mot de passe, c'est au moins 12 caractères. Mot de passe : jamais le même partout !",
    "Mot de passe : 12 caractères minimum, une majuscule, un chiffre.",
    "Votre mot de passe : personnel. Ne le donnez à personne.",
    "Double authentification et mot de passe : obligatoire !",
    "Petit rappel de l'équipe sécurité : votre mdp est personnel, ne le prêtez à personne.",
    "Le digicode du bâtiment B change lundi, demandez le nouveau à l'accueil.",
    "Passcode, mot de passe, code PIN : on les garde pour soi. Bonne journée de la sécurité numérique !",
    "Our team's favourite security tip: a passphrase beats a password.",
    "Ce matin, formation « mots de passe et phishing » pour toute l'équipe.",
    "Mot de passe oublié ? Le support informatique vous aide, comme toujours.",
    "Door code reminder for visitors: ask at the front desk, never share it.",
    "Ne notez jamais vos identifiants sur un post-it collé à l'écran.",
    "Ne laissez jamais le mot de passe du poste visible à l'écran pendant une visio.",
    "Attention aux détails : un badge ou un post-it avec des mots de passe peut se glisser sur une image.",
    # Neighbours of the words themselves.
    "Nos pin's de la mission Rosetta sont arrivés : 2000 exemplaires !",
    "Pin the agency's launch post to your profile, it takes 2 minutes",
    "Le code source de notre logiciel de vol est désormais ouvert (licence libre).",
    "Je suis passé au labo ce matin : 4 heures de tests, tout est nominal.",
    "Le code de conduite du salon est affiché à l'entrée.",
    "Login page of the new outreach site: clean design, well done team",
]


@pytest.mark.parametrize("text", SECRETS)
def test_a_disclosed_secret_is_blocked(text):
    """Mutation: confidential.credential back at `warn` (or "mdp", "passphrase", "digicode", "door code",
    "pin" removed from its secret words, or the one-word-after-a-colon pattern removed) -> this test fails."""
    result = run(text)
    assert result.verdict == "blocked", codes(result)
    assert "confidential.credential" in codes(result)
    # The secret is never quoted back.
    assert all(reason.match == "" for reason in result.reasons if reason.code == "confidential.credential")


@pytest.mark.parametrize("text", SECRETS_IN_PHOTOS)
def test_a_secret_shown_in_a_photo_description_is_blocked(text):
    """Mutation: confidential.secret_in_photo disabled, or its "on voit / visible / post-it" patterns
    removed -> this test fails."""
    result = run(text, has_photo=True)
    assert result.verdict == "blocked", codes(result)
    assert "confidential.secret_in_photo" in codes(result)


@pytest.mark.parametrize("text", ABOUT_PASSWORDS)
def test_talking_about_passwords_stays_allowed(text):
    """Neighbours. Mutation: the advice-word guard of the colon pattern removed ("Mot de passe : jamais")
    -> this test fails; the negation guard of the photo patterns removed ("Ne laissez jamais le mot de
    passe … visible sur une photo") -> this test fails; password_mention back at `warn` -> it fails."""
    result = run(text)
    assert result.verdict == "allowed", [(r.code, r.severity) for r in result.reasons]
    assert not codes(result) & {"confidential.credential", "confidential.secret_in_photo"}


def test_the_french_reason_names_the_guide_passage_and_what_to_do():
    result = run("mdp : Soleil2024 pour l'équipe", language="fr")
    (reason,) = [r for r in result.reasons if r.code == "confidential.credential"]
    assert reason.passage.startswith("« Respectez les règles de sécurité / confidentialité »")
    assert "changez-le" in reason.advice
    assert "post-it avec des mots de passe" in reason.guide  # the guide's own words
    english = next(r for r in run("mdp : Soleil2024").reasons if r.code == "confidential.credential")
    assert english.passage.startswith("“Follow the security / confidentiality rules”")
    assert english.advice.startswith("Remove the secret")


RELAYS = [
    ("Communiqué officiel du CNES : « Un incident est survenu ce matin lors de l'essai moteur. Aucun "
     "blessé n'est à déplorer. »", "linkedin"),
    ("Je relaie le communiqué de l'agence sur l'incident de ce matin : https://cnes.example/c", "linkedin"),
    ("Sharing the agency's official statement on this morning's incident: https://a.example/s", "x"),
    ("Official statement from the agency: an anomaly occurred during the test.", "linkedin"),
    ("[Communiqué de presse] Point sur l'anomalie de l'essai", "linkedin"),
    ("Press release: update on the test anomaly.", "linkedin"),
    ("RT @CNES: Communiqué - incident lors de l'essai moteur, aucun blessé.", "linkedin"),
    # Neighbours of crisis.relay_addition: a link or a hashtag after the relaying sentence adds no words.
    ("Je relaie le communiqué de l'agence. https://cnes.example/communique", "linkedin"),
    ("Je partage le communiqué officiel de l'agence sur le report du lancement. #CNES", "linkedin"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "network"), RELAYS)
def test_relaying_the_official_statement_as_it_stands_is_allowed_with_care(text, network):
    """Mutation: crisis.relay_official no longer lifts crisis.freeze (its `suppresses` emptied, or the
    matcher's suppression removed) -> this test fails."""
    result = run(text, network=network, crisis=True)
    assert result.verdict == "warn", codes(result)
    assert "crisis.freeze" not in codes(result)
    (relay,) = [r for r in result.reasons if r.code == "crisis.relay_official"]
    assert relay.advice == "Share it as is, add nothing."


ADDITIONS = [
    ("Communiqué officiel : un incident est survenu. À mon avis, la direction a tardé.", "crisis.opinion"),
    ("Sharing the agency's statement. In my opinion this was bound to happen.", "crisis.opinion"),
    ("Official statement: the launch is postponed. Personally I am gutted.", "crisis.opinion"),
    ("Je relaie le communiqué officiel. Contrairement aux rumeurs, il n'y a aucun danger !", "crisis.denial"),
    ("Official statement below. This is false, whatever the trolls say!", "crisis.denial"),
    ("@journaliste42 lisez le communiqué officiel avant d'écrire", "crisis.reply"),
    ("Communiqué de presse : en réponse à vos questions, voici le texte", "crisis.reply"),
    (
        "Je relaie le communiqué officiel du CNES. Le moteur a explosé, c'est la panique.",
        "crisis.relay_addition",
    ),
    ("Sharing the agency's statement! We all know what really happened.", "crisis.relay_addition"),
]


@pytest.mark.parametrize(("text", "code"), ADDITIONS)
def test_adding_an_opinion_a_denial_or_a_reply_to_a_relay_is_blocked(text, code):
    """Mutation: crisis.opinion / crisis.reply / crisis.relay_addition disabled, or the relay rule
    lifting them too -> this test fails."""
    result = run(text, crisis=True)
    assert result.verdict == "blocked", codes(result)
    assert code in codes(result)


NOT_RELAYS = [
    "En attendant le communiqué officiel, voici ce que je sais : le moteur a explosé",
    "Pensées pour les équipes mobilisées ce soir",
    "Thoughts with the teams working tonight",
    "Le communiqué de presse arrive, je vous en dis plus bientôt",
]


@pytest.mark.parametrize("text", NOT_RELAYS)
def test_speaking_about_the_statement_is_not_relaying_it(text):
    """Neighbours. Mutation: the relay patterns' start anchor (^) removed -> this test fails."""
    result = run(text, crisis=True)
    assert result.verdict == "blocked"
    assert "crisis.freeze" in codes(result)


def test_official_accounts_still_go_through_the_statement_workflow():
    text = "Communiqué officiel : un incident est survenu lors de l'essai moteur."
    result = run(text, account_kind="official", crisis=True)
    assert result.verdict == "blocked"
    assert "crisis.freeze_official" in codes(result)


def test_outside_a_crisis_opinions_and_replies_are_not_crisis_matters():
    """Mutation: crisis.opinion's condition set to `always` -> this test fails."""
    assert run("I think this is the most beautiful image of Saturn ever").verdict == "allowed"
    assert run("@marie merci pour ton retour !", network="linkedin").verdict == "allowed"


def test_the_principles_are_data_the_dco_can_edit(dco):
    """The relay rule's lift is a field: emptied by the DCO, the freeze applies to relays again."""
    from apps.policy import services

    text = "Official statement from the agency: an anomaly occurred during the test."
    assert run(text, crisis=True).verdict == "warn"
    rule = PolicyRule.objects.get(code="crisis.relay_official")
    services.policy_rule_update(actor=dco, rule=rule, data={"suppresses": []})
    assert run(text, crisis=True).verdict == "blocked"


def test_a_rule_cannot_lift_itself(dco):
    from apps.core.errors import ServiceError
    from apps.policy import services

    rule = PolicyRule.objects.get(code="crisis.relay_official")
    with pytest.raises(ServiceError) as caught:
        services.policy_rule_update(actor=dco, rule=rule, data={"suppresses": ["crisis.relay_official"]})
    assert caught.value.field == "suppresses"
