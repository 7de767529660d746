"""The ambassador guide's rules, as first installed (data migration 0002) and restorable with
`manage.py policy_seed_rules`. After installation the DCO edits them in the admin; this module is
only the starting point, and seeding never overwrites a rule that already exists.

Messages may use {crisis}, {freeze_until}, {topic}, {until} and {match}; the guide quotes are the
French original (seeds/000_814c96c5e77f4c10.txt).
"""

DENIAL_TERMS = [
    # French
    "démenti",
    "démentis",
    "démentir",
    "démentons",
    "démentez",
    "je démens",
    "formellement démenti",
    "c'est faux",
    "c'est totalement faux",
    "c'est archi faux",
    "contrairement à ce qui",
    "contrairement à ce que",
    "contrairement aux rumeurs",
    "contrairement aux affirmations",
    "fake news",
    "fausse information",
    "fausses informations",
    "infox",
    "intox",
    "rumeur*",
    "rétablir la vérité",
    "rétablissons la vérité",
    "rétablir les faits",
    "mensonge*",
    "calomnie*",
    "en réponse aux accusations",
    "répondre aux accusations",
    # English
    "contrary to reports",
    "contrary to rumors",
    "contrary to rumours",
    "contrary to what",
    "we deny",
    "we categorically deny",
    "firmly deny",
    "this is false",
    "that is false",
    "that's false",
    "is not true",
    "isn't true",
    "debunk*",
    "misinformation",
    "disinformation",
    "désinformation",
    "hoax",
    "set the record straight",
    "setting the record straight",
    "in response to the allegations",
    "in response to claims",
]

# Talking about passwords is welcome (advice, awareness month): these only remind, at `info`.
PASSWORD_WORDS = [
    "mot de passe",
    "mots de passe",
    "mdp",
    "phrase secrète",
    "phrase de passe",
    "identifiants",
    "code d'accès",
    "codes d'accès",
    "digicode",
    "code de la porte",
    "password",
    "passwords",
    "passphrase",
    "passcode",
    "credentials",
    "access code",
    "door code",
]

# A secret word, in French and English and their usual abbreviations (regex, on accent-free text).
_SECRET = (
    r"(?:mots? de passe|mdp|mot2passe|pwd|passwd|password|pass ?phrase|phrase (?:secrete|de passe)|"
    r"passcode|pass code|codes? (?:d'acces|d'entree|de (?:la )?porte|du portail|du batiment|du local|"
    r"du badge|du coffre|du cadenas|wifi|wi-fi|du wifi|du wi-fi|secret)|digicode|door ?code|access code|"
    r"entry code|gate code|pin(?: code)?|code pin|login|identifiants?|credentials?|user ?name|"
    r"nom d'utilisateur|token|api[ _-]?key|cle d'api|cle secrete|secret key)"
)
# Words that follow "mot de passe :" in advice, not as the password itself.
_ADVICE_WORDS = (
    r"(?:changez|changer|change|utilisez|utiliser|use|jamais|never|oubli|forgot|robuste|strong|long|"
    r"court|short|personnel|personal|prive|private|secret|unique|obligatoire|required|mandatory|"
    r"renouvel|modifi|update|reset|expire|faible|weak|fort|complexe|complex|securise|secure|conseil|"
    r"tips?|astuce|rappel|reminder|attention|danger|minimum|minimal|requis|valide|invalid|incorrect|"
    r"perdu|lost|compromis|compromised|gestionnaire|manager|ici|here|voir|see|aucun|none|non|no)"
)
CREDENTIAL_PATTERNS = [
    # "mdp : Soleil2024", "password is Xy12!kq9": a value mixing digits or symbols.
    r"\b" + _SECRET + r"(?:\s+[\w'-]+){0,6}?(?:\s*[:=]\s*|\s+(?:est|is|c'est|sera|will be)\s+)"
    r"(?:le\s+|the\s+)?[«\"“']?\s*(?=\S*[\d!@#$%^&*?+=_~])\S{4,}",
    # "mdp Ariane2026": right after the word, a value mixing letters and digits.
    r"\b" + _SECRET + r"\s+(?:du wifi\s+|wifi\s+)?(?=\S*\d)(?=\S*[a-z])[^\s,.;]{6,}",
    # "mdp : soleil", "login: jdupont /": one word alone after the colon, unless it is advice.
    r"\b" + _SECRET + r"(?:\s+[\w'-]+){0,4}?\s*[:=]\s*[«\"“']?\s*(?!" + _ADVICE_WORDS + r")"
    r"[^\s,.;!?«»\"“”()]{4,}\s*[»\"”']?\s*(?:$|[,.;!?()/|\n])",
    # "le mot de passe est Soleil", "the passcode is Kourou": a capitalised word (case kept).
    r"\b" + _SECRET + r"(?:\s+[\w'-]+){0,4}?\s+(?:est|is|c'est)\s+[«\"“']?(?-i:[A-Z])[\w-]{3,}",
    # A quoted value: mot de passe « soleil », password "hunter".
    r"\b" + _SECRET + r"(?:\s+[\w'-]+){0,3}?\s*[:=]?\s*[«\"“]\s*[^«»\"“”\n]{3,60}?\s*[»\"”]",
    # A door or access code: "digicode 4512B", "code de la porte : 1789", "passcode 0000".
    r"\b(?:digicode|door ?code|access code|entry code|gate code|passcode|codes? (?:d'acces|d'entree|"
    r"de (?:la )?porte|du portail|du batiment|du local|du cadenas|du coffre|pin)|pin(?: code)?)"
    r"(?:\s+[\w'-]+){0,3}?\s*(?:[:=]|\s(?:est|is|c'est))?\s*(?:le\s+|the\s+)?#?\d[\dA-Z#*]{2,}\b",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    r"\bAKIA[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
    r"\bxox[abpr]-[A-Za-z0-9-]{10,}\b",
    r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:[^\s/@]+@",
]
# A particular secret (definite or first-person words, not the generic "un mot de passe" or "vos
# identifiants" of advice) said to be visible on a photo, a screen, a post-it or a board.
_THIS_SECRET = (
    r"(?:le|la|les|l'|du|notre|nos|mon|ma|mes|son|sa|ses|leur|leurs|ce|cet|cette|ces|the|our|my|his|"
    r"her|their|this|these)\s*(?:\w+\s+){0,2}?\b" + _SECRET
)
_SHOWN = (
    r"(?:visibles?|lisibles?|affiche(?:e|s|es)?|en clair|en evidence|bien en vue|readable|legible|"
    r"in plain sight|on display|clearly shown|made it into|appears? (?:in|on)|apparai(?:t|ssent) "
    r"(?:sur|dans)|figurent? (?:sur|dans)|dans le cadre|in the (?:shot|frame))"
)
_PICTURE = (
    r"(?:photos?|images?|cliches?|captures? d'ecran|screenshots?|pictures?|pics?|selfies?|"
    r"arriere-plan|background|ecran|screen|tableau blanc|whiteboard|post-?its?|sticky notes?)"
)
# From the start of a sentence that holds no negation: "ne laissez jamais le mot de passe visible sur
# une photo" is advice, not a disclosure.
_NEGATION = r"\b(?:jamais|never|evitez|avoid|ne|n'|pas|don't|do not|not|no|aucun|aucune)\b"
_AFFIRMATIVE = r"(?:^|(?<=[.!?\n]))(?=(?:(?!" + _NEGATION + r")[^.!?\n])*(?:[.!?\n]|$))[^.!?\n]*?"
_SHOWN_IN = [
    r"\b(?:post-it|postit|post it)s?\s+(?:avec|with|showing|portant|du|de)\s+" + _THIS_SECRET + r"\b",
    r"\b" + _PICTURE + r"\b[^.!?\n]{0,80}?\b" + _THIS_SECRET + r"\b[^.!?\n]{0,40}?" + _SHOWN,
    r"\b" + _THIS_SECRET + r"\b[^.!?\n]{0,20}?" + _SHOWN + r"[^.!?\n]{0,60}?\b" + _PICTURE,
    # Long words only in these phrases: the shortest word of a branch is what gates the pattern
    # (matcher.required_word_starts), and "on lit" or "you can see" would open it on most posts.
    r"\b(?:on voit|on apercoit|on distingue|on peut lire|can be seen|se voit|se voient)\b[^.!?\n]{0,40}?\b"
    + _THIS_SECRET
    + r"\b",
    r"\b" + _THIS_SECRET + r"\b[^.!?\n]{0,30}?\b(?:se voit|se voient|can be seen|can be read|is visible|"
    r"are visible|est visible|sont visibles|(?:sont|est|is|are) (?:sur|on) (?:le|un|mon|the|a|my) "
    r"(?:post-?it|sticky note|tableau|whiteboard))",
]
# One pattern, so that each sentence is read for negations once, not once per way of saying it.
SECRET_IN_PHOTO_PATTERNS = [_AFFIRMATIVE + "(?:" + "|".join(_SHOWN_IN) + ")"]

# Relaying the agency's own word as it stands: the post opens with the statement or the act of
# relaying it ("Communiqué officiel : …", "Je relaie le communiqué du CNES", "Sharing the agency's
# official statement"). A mention further on ("en attendant le communiqué, voici…") does not count.
_STATEMENT = (
    r"(?:communiques?(?: de presse| officiels?)?|declarations? officielles?|message officiel|"
    r"(?:official |press |agency's |agency |the agency's )?statements?|press releases?|communiques?)"
)
RELAY_PATTERNS = [
    # One pattern opening on ^, which the regex engine then tries at the start of the post only.
    r"^\W*(?:\[\s*)?\b(?:(?:communiques? (?:de presse|officiels?|du cnes|de l'agence|de la direction)|"
    r"declarations? officielles?|official statement|press release|agency statement|statement from the "
    r"agency)\b|(?:je (?:relaie|relaye|partage|repartage|transmets|vous transmets|diffuse)|nous "
    r"(?:relayons|partageons|transmettons)|relai|relais|partage|repartage|a lire|a partager|"
    r"i(?:'m| am) (?:sharing|resharing|relaying|reposting)|sharing|resharing|relaying|reposting|"
    r"reshare|repost)\b[^.!?\n]{0,40}?\b" + _STATEMENT + r"\b)",
    r"^\W*(?:RT @|repost @)\w+\s*:",
]

# Own words after a relay: the relaying sentence ends (". ", "! ") and another sentence follows. A
# statement introduced by a colon ("Communiqué officiel : …") is the statement itself; a link or a
# hashtag after the sentence adds no words.
RELAY_ADDITION_PATTERNS = [
    r"^\W*\b(?:je (?:relaie|relaye|partage|repartage|transmets|vous transmets|diffuse)|nous "
    r"(?:relayons|partageons|transmettons)|i(?:'m| am) (?:sharing|resharing|relaying|reposting)|sharing|"
    r"resharing|relaying|reposting)\b[^:.!?\n]{0,80}?\b" + _STATEMENT + r"\b[^:.!?\n]*[.!?]+\s+"
    r"(?!https?://)\w",
]

# Own words added to a relay, or spoken instead of it: opinions and judgements.
OPINION_TERMS = [
    "à mon avis",
    "mon avis",
    "selon moi",
    "je pense que",
    "je crois que",
    "je trouve que",
    "personnellement",
    "à titre personnel",
    "mon opinion",
    "honteux",
    "honteuse",
    "quelle honte",
    "scandale*",
    "inadmissible",
    "inacceptable",
    "lamentable",
    "incompéten*",
    "n'importe quoi",
    "ridicule",
    "pitoyable",
    "in my opinion",
    "my opinion",
    "my view",
    "my take",
    "my two cents",
    "imo",
    "imho",
    "i think",
    "i believe",
    "personally",
    "shameful",
    "disgrace*",
    "outrageous",
    "unacceptable",
    "incompeten*",
    "ridiculous",
    "pathetic",
]

# A reply: the post opens on someone's handle (a reply on X or Mastodon), or says it answers.
REPLY_PATTERNS = [
    r"^\s*@\w+",
    r"\b(?:en reponse a|pour repondre a|je reponds a|je vous reponds a|reponse a @|replying to|in reply to|"
    r"my answer to|to answer @)",
]

_DETAILS_GUIDE = (
    "Attention aux détails ! il arrive qu'un badge ou un post-it avec des mots de passe puisse se "
    "glisser sur une photo d'équipe d'apparence anodine…"
)
_CRISIS_GUIDE = (
    "La communication redevient verticale et centralisée. Une règle essentielle à respecter : aucune "
    "publication spontanée ne doit émaner des salariés, à l'exception des porte-parole habilités. […] "
    "il convient de suspendre toute publication professionnelle, planifiée ou non, sans rapport avec le "
    "sujet de crise […]. Concrètement, attendez 24h pour toute publication, et ensuite référez-vous à la DCO."
)
_CONFIDENTIAL_GUIDE = (
    "Ne diffusez aucune information protégée par le secret industriel. Ne rendez jamais publics des "
    "documents ou informations à diffusion restreinte."
)
_VIDEO = ["youtube", "twitch", "tiktok", "dailymotion"]

GUIDE_RULES = [
    # --- Crisis -------------------------------------------------------------------------------------
    {
        "code": "crisis.freeze",
        "kind": "scope",
        "severity": "block",
        "condition": "freeze",
        "account_kind": "personal",
        "message_fr": (
            "Une crise est en cours (« {crisis} ») : toute publication professionnelle, planifiée ou "
            "non, est suspendue jusqu'au {freeze_until}. Seuls les porte-parole habilités s'expriment, "
            "avec la DCO ; ensuite, référez-vous à la DCO avant de publier."
        ),
        "message_en": (
            "A crisis is in progress (“{crisis}”): every professional publication, scheduled or not, is "
            "suspended until {freeze_until}. Only authorised spokespersons speak, with the DCO; after "
            "that, refer to the DCO before publishing."
        ),
        "guide": _CRISIS_GUIDE,
    },
    {
        "code": "crisis.freeze_official",
        "kind": "scope",
        "severity": "block",
        "condition": "freeze",
        "account_kind": "official",
        "message_fr": (
            "Une crise est en cours (« {crisis} ») : jusqu'au {freeze_until}, seules les déclarations "
            "approuvées partent des comptes officiels. Un texte ne peut pas être approuvé ici : la seule "
            "voie est le circuit des déclarations (rédaction par un porte-parole mandaté, relecture, "
            "approbation par la DCO)."
        ),
        "message_en": (
            "A crisis is in progress (“{crisis}”): until {freeze_until}, only approved statements leave "
            "the official accounts. A text cannot be approved here: the only way is the statement "
            "workflow (drafted by a mandated spokesperson, reviewed, approved by the DCO)."
        ),
        "guide": _CRISIS_GUIDE,
    },
    {
        "code": "crisis.after_freeze",
        "kind": "scope",
        "severity": "warn",
        "condition": "after_freeze",
        "message_fr": (
            "La crise « {crisis} » n'est pas close : le gel a pris fin le {freeze_until}, mais "
            "référez-vous à la DCO avant toute publication."
        ),
        "message_en": (
            "The crisis “{crisis}” is not closed: the freeze ended on {freeze_until}, but refer to the "
            "DCO before any publication."
        ),
        "guide": "Concrètement, attendez 24h pour toute publication, et ensuite référez-vous à la DCO.",
    },
    {
        "code": "crisis.denial",
        "kind": "term",
        "severity": "block",
        "condition": "crisis",
        "patterns": DENIAL_TERMS,
        "message_fr": (
            "Pendant une crise, ne répondez pas et ne démentez pas des affirmations, même fausses, sur "
            "vos comptes professionnels ou personnels (« {match} ») : y donner suite risque de créer ou "
            "d'amplifier une polémique. Transmettez à la DCO."
        ),
        "message_en": (
            "During a crisis, do not answer or deny claims, even false ones, on your professional or "
            "personal accounts (“{match}”): doing so risks creating or amplifying a controversy. Pass "
            "it on to the DCO."
        ),
        "guide": (
            "Ne cédez pas à la tentation de répondre ou de démentir des affirmations fausses sur vos "
            "comptes professionnels ou personnels : y donner suite risque fort de créer ou d'amplifier "
            "une polémique. Ne répondez pas à la provocation d'internautes."
        ),
    },
    {
        "code": "crisis.relay_official",
        "kind": "regex",
        "severity": "warn",
        "condition": "crisis",
        "suppresses": ["crisis.freeze", "crisis.after_freeze"],
        "patterns": RELAY_PATTERNS,
        "message_fr": (
            "Vous relayez la parole officielle de l'agence (« {match} ») : c'est ce que le guide demande. "
            "Partagez-la telle quelle, n'ajoutez rien."
        ),
        "message_en": (
            "You are relaying the agency's official word (“{match}”): that is what the guide asks. Share "
            "it as is, add nothing."
        ),
        "guide": (
            "La communication redevient verticale et centralisée. […] Parler d'une seule voix permet de "
            "rester crédibles et dignes de confiance."
        ),
    },
    {
        "code": "crisis.relay_addition",
        "kind": "regex",
        "severity": "block",
        "condition": "crisis",
        "quote_match": False,
        "patterns": RELAY_ADDITION_PATTERNS,
        "message_fr": (
            "Vous relayez le communiqué, puis vous ajoutez vos propres mots : pendant une crise, le "
            "communiqué se partage tel quel, sans rien ajouter."
        ),
        "message_en": (
            "You relay the statement, then add words of your own: during a crisis, the statement is "
            "shared as it stands, with nothing added."
        ),
        "guide": (
            "Une règle essentielle à respecter : aucune publication spontanée ne doit émaner des "
            "salariés, à l'exception des porte-parole habilités. Parler d'une seule voix permet de rester "
            "crédibles et dignes de confiance."
        ),
    },
    {
        "code": "crisis.opinion",
        "kind": "term",
        "severity": "block",
        "condition": "crisis",
        "patterns": OPINION_TERMS,
        "message_fr": (
            "Pendant une crise, aucune prise de parole spontanée : pas d'opinion ni de commentaire "
            "personnel (« {match} »), même en relayant le communiqué."
        ),
        "message_en": (
            "During a crisis, no spontaneous speech: no opinion or personal comment (“{match}”), even "
            "when relaying the statement."
        ),
        "guide": (
            "Une règle essentielle à respecter : aucune publication spontanée ne doit émaner des "
            "salariés, à l'exception des porte-parole habilités. En effet, chaque post ou réaction reçoit "
            "beaucoup plus d'écho qu'en temps normal et peut être détourné ou mal interprété."
        ),
    },
    {
        "code": "crisis.reply",
        "kind": "regex",
        "severity": "block",
        "condition": "crisis",
        "patterns": REPLY_PATTERNS,
        "message_fr": (
            "Pendant une crise, ne répondez pas aux internautes (« {match} ») : une réponse risque de "
            "créer ou d'amplifier une polémique."
        ),
        "message_en": (
            "During a crisis, do not reply to people online (“{match}”): a reply risks creating or "
            "amplifying a controversy."
        ),
        "guide": (
            "Ne cédez pas à la tentation de répondre ou de démentir des affirmations fausses sur vos "
            "comptes professionnels ou personnels […]. Ne répondez pas à la provocation d'internautes."
        ),
    },
    {
        "code": "tone.polemic",
        "kind": "term",
        "severity": "warn",
        "condition": "none",
        "patterns": [*DENIAL_TERMS, "troll", "trolls", "complotiste*", "conspiracy theor*", "polémique*"],
        "message_fr": (
            "N'alimentez pas les polémiques et ne répondez pas aux trolls (« {match} ») : restez mesuré, "
            "et contactez la DCO avant de poster une réponse qui pourrait dégénérer."
        ),
        "message_en": (
            "Do not feed controversies or answer trolls (“{match}”): stay measured, and contact the DCO "
            "before posting a reply that could escalate."
        ),
        "guide": (
            "N'alimentez pas les polémiques, ne répondez pas aux trolls. […] contactez-nous avant de "
            "poster une publication ou une réponse qui pourrait dégénérer."
        ),
    },
    # --- Networks, for personal accounts ------------------------------------------------------------
    {
        "code": "network.linkedin",
        "kind": "scope",
        "severity": "info",
        "networks": ["linkedin"],
        "account_kind": "personal",
        "message_fr": (
            "LinkedIn est le réseau professionnel par excellence : partager votre expertise et vos "
            "résultats y est encouragé, en respectant la confidentialité."
        ),
        "message_en": (
            "LinkedIn is the professional network par excellence: sharing your expertise and results "
            "there is encouraged, within the confidentiality rules."
        ),
        "guide": (
            "LinkedIn : votre compte individuel, bien utilisé, est très complémentaire de la communication "
            "institutionnelle du CNES et viendra nettement enrichir notre visibilité."
        ),
    },
    {
        "code": "network.measure",
        "kind": "scope",
        "severity": "warn",
        "networks": ["facebook", "instagram"],
        "account_kind": "personal",
        "message_fr": (
            "Facebook et Instagram : avec mesure. Repartagez plutôt les contenus officiels vers votre "
            "sphère privée que de publier vos propres contenus professionnels."
        ),
        "message_en": (
            "Facebook and Instagram: with measure. Rather share the official content with your private "
            "circle than publish professional content of your own."
        ),
        "guide": (
            "Facebook, Instagram : un compte personnel sur ces plateformes vous permet utilement de donner "
            "de l'écho aux publications et aux médias du CNES vers votre sphère privée."
        ),
    },
    {
        "code": "network.x_caution",
        "kind": "scope",
        "severity": "warn",
        "networks": ["x"],
        "account_kind": "personal",
        "message_fr": (
            "X : avec beaucoup de prudence, surtout pour repartager les publications officielles ; "
            "attention aux trolls et aux complotistes."
        ),
        "message_en": (
            "X: with great caution, mostly to reshare official posts; beware of trolls and conspiracy "
            "theorists."
        ),
        "guide": (
            "X : Utilisez-le avec beaucoup de prudence, surtout dans une optique de repartager les "
            "publications du CNES."
        ),
    },
    {
        "code": "network.video_dco_only",
        "kind": "scope",
        "severity": "block",
        "networks": _VIDEO,
        "account_kind": "personal",
        "message_fr": (
            "Sur les plateformes vidéo (YouTube, Twitch, TikTok, Dailymotion), la publication relève "
            "exclusivement de la DCO : pas de compte au titre de votre activité professionnelle. Vous "
            "pouvez partager les contenus officiels ; proposez votre sujet à la DCO."
        ),
        "message_en": (
            "On video platforms (YouTube, Twitch, TikTok, Dailymotion), publishing is the DCO's alone: "
            "no account for your professional activity. You may share the official content; propose "
            "your subject to the DCO."
        ),
        "guide": (
            "Toutes les plateformes vidéos, comme YouTube, Twitch, TikTok, Dailymotion : ne créez pas de "
            "compte au titre de votre activité professionnelle (ni nominatif, ni pour un projet)."
        ),
    },
    {
        "code": "network.official_only",
        "kind": "scope",
        "severity": "block",
        "networks": ["mastodon", "whatsapp"],
        "account_kind": "personal",
        "message_fr": (
            "Mastodon et WhatsApp sont utilisés à titre expérimental par les seuls comptes officiels : "
            "pas de publication professionnelle depuis un compte personnel ; proposez votre sujet à la DCO."
        ),
        "message_en": (
            "Mastodon and WhatsApp are experimental, for the official accounts only: no professional "
            "post from a personal account; propose your subject to the DCO."
        ),
        "guide": "Mastodon, Whatsapp : ces réseaux sont encore utilisés par le CNES à titre expérimental.",
    },
    # --- Confidentiality --------------------------------------------------------------------------
    {
        "code": "confidential.label",
        "kind": "term",
        "severity": "block",
        "patterns": [
            "diffusion restreinte",
            "diffusion limitée",
            "confidentiel défense",
            "secret défense",
            "très secret",
            "secret industriel",
            "secret des affaires",
            "ne pas diffuser",
            "usage interne",
            "restricted distribution",
            "internal use only",
            "for official use only",
            "do not distribute",
            "not for distribution",
            "trade secret",
            "classified",
            "top secret",
        ],
        "message_fr": (
            "Mention de diffusion restreinte ou de secret (« {match} ») : ne rendez jamais publics des "
            "documents ou informations protégés."
        ),
        "message_en": (
            "Restricted-distribution or secrecy label (“{match}”): never make protected documents or "
            "information public."
        ),
        "guide": _CONFIDENTIAL_GUIDE,
    },
    {
        "code": "confidential.dr_marker",
        "kind": "regex",
        "severity": "warn",
        "patterns": [r"(?-i:\bDR\b)"],
        "message_fr": (
            "« DR » peut signaler un document à Diffusion Restreinte : vérifiez que rien de restreint "
            "n'est publié."
        ),
        "message_en": (
            "“DR” may mark a restricted-distribution document (Diffusion Restreinte): check that nothing "
            "restricted is published."
        ),
        "guide": _CONFIDENTIAL_GUIDE,
    },
    {
        "code": "confidential.mention",
        "kind": "term",
        "severity": "warn",
        "patterns": ["confidentiel", "confidentielle", "confidentiels", "confidentielles", "confidential"],
        "message_fr": (
            "Vous évoquez une information confidentielle (« {match} ») : vérifiez qu'elle peut être publiée."
        ),
        "message_en": "You mention confidential information (“{match}”): check that it may be published.",
        "guide": _CONFIDENTIAL_GUIDE,
    },
    {
        "code": "export.control",
        "kind": "regex",
        "severity": "warn",
        "patterns": [
            r"\bITAR\b",
            r"(?-i:\bEAR\b)",
            r"\bcontroles? (?:des |a l'|de l')?exportations?\b",
            r"\bexport controls?\b",
            r"\bdouble usage\b",
            r"\bdual[- ]use\b",
        ],
        "message_fr": (
            "Vocabulaire du contrôle des exportations (« {match} ») : les informations couvertes ne "
            "doivent pas être publiées ; vérifiez auprès de votre responsable."
        ),
        "message_en": (
            "Export-control wording (“{match}”): covered information must not be published; check with "
            "your manager."
        ),
        "guide": "Ne diffusez aucune information protégée par le secret industriel.",
    },
    {
        "code": "export.marking",
        "kind": "regex",
        "severity": "block",
        "patterns": [
            r"\bITAR[\s-]+(?:controlled|controlee?s?|restricted|regulated)\b",
            r"\bexport[\s-]+controlled\b",
            r"\bsoumise?s? (?:a l'|a la reglementation |a |au |aux )?"
            r"(?:ITAR|EAR|controle des exportations)\b",
            r"(?-i:\bEAR ?99\b)",
            r"\bECCN\b",
        ],
        "message_fr": (
            "Marquage de contrôle des exportations (« {match} ») : ces informations ne peuvent pas être "
            "publiées."
        ),
        "message_en": "Export-control marking (“{match}”): this information cannot be published.",
        "guide": "Ne diffusez aucune information protégée par le secret industriel.",
    },
    {
        "code": "confidential.password_mention",
        "kind": "term",
        "severity": "info",
        "patterns": PASSWORD_WORDS,
        "message_fr": (
            "Vous parlez de mots de passe ou de codes (« {match} ») : en parler est bienvenu, en dévoiler "
            "un ne l'est jamais. Vérifiez qu'aucun mot de passe, identifiant ou code n'apparaît dans le "
            "texte ni sur une photo (post-it, écran, tableau)."
        ),
        "message_en": (
            "You mention passwords or codes (“{match}”): talking about them is welcome, disclosing one "
            "never is. Check that no password, login or code appears in the text or on a photo (post-it, "
            "screen, whiteboard)."
        ),
        "guide": _DETAILS_GUIDE,
    },
    {
        "code": "confidential.credential",
        "kind": "regex",
        "severity": "block",
        "quote_match": False,
        "patterns": CREDENTIAL_PATTERNS,
        "message_fr": (
            "Le texte dévoile un mot de passe, un code d'accès, une clé ou un identifiant de connexion : "
            "un secret dévoilé n'est jamais un simple avertissement."
        ),
        "message_en": (
            "The text discloses a password, an access code, a key or a login: a disclosed secret is never "
            "a mere warning."
        ),
        "guide": _DETAILS_GUIDE,
    },
    {
        "code": "confidential.secret_in_photo",
        "kind": "regex",
        "severity": "block",
        "quote_match": False,
        "patterns": SECRET_IN_PHOTO_PATTERNS,
        "message_fr": (
            "La description dit qu'un mot de passe, un code ou des identifiants se voient (photo, écran, "
            "post-it, tableau) : c'est un secret dévoilé."
        ),
        "message_en": (
            "The description says a password, a code or a login can be seen (photo, screen, post-it, "
            "whiteboard): that is a disclosed secret."
        ),
        "guide": _DETAILS_GUIDE,
    },
    {
        "code": "equipment.weakness",
        "kind": "term",
        "severity": "warn",
        "patterns": [
            "faiblesse",
            "faiblesses",
            "défaillan*",
            "panne",
            "pannes",
            "endommag*",
            "dommages",
            "dégâts",
            "avarie*",
            "fissur*",
            "dysfonctionnement*",
            "vulnérabilit*",
            "anomalie*",
            "weakness*",
            "failure*",
            "damage*",
            "malfunction*",
            "vulnerabilit*",
            "defect*",
            "breakdown*",
            "faulty",
            "cracked",
        ],
        "message_fr": (
            "Ne dévoilez pas les faiblesses d'un dispositif ni les dommages d'un équipement "
            "(« {match} ») : vérifiez que ce n'est pas le cas, ou demandez à la DCO."
        ),
        "message_en": (
            "Do not reveal the weaknesses of a system or damage to equipment (“{match}”): check that this "
            "is not the case, or ask the DCO."
        ),
        "guide": (
            "Assurez-vous de ne pas dévoiler les faiblesses d'un dispositif ou d'un équipement. […] "
            "assurez-vous de ne pas dévoiler les faiblesses d'un dispositif, les dommages d'un équipement."
        ),
    },
    {
        "code": "embargo.mention",
        "kind": "term",
        "severity": "warn",
        "patterns": ["embargo", "sous embargo", "under embargo", "embargoed"],
        "message_fr": (
            "Vous évoquez un embargo : vérifiez auprès de la DCO qu'il est levé avant de publier."
        ),
        "message_en": "You mention an embargo: check with the DCO that it has ended before publishing.",
        "guide": "Respectez les éventuels embargos sur une donnée ou une information.",
    },
    {
        "code": "embargo.active",
        "kind": "embargo",
        "severity": "block",
        "message_fr": (
            "« {topic} » est sous embargo jusqu'au {until} (« {match} ») : ne publiez rien qui s'y "
            "rapporte avant cette date."
        ),
        "message_en": (
            "“{topic}” is under embargo until {until} (“{match}”): publish nothing about it before then."
        ),
        "guide": "Respectez les éventuels embargos sur une donnée ou une information.",
    },
    # --- Voice and neutrality -----------------------------------------------------------------------
    {
        "code": "agency.voice",
        "kind": "term",
        "severity": "warn",
        "account_kind": "personal",
        "patterns": [
            "au nom du CNES",
            "au nom de l'agence",
            "au nom de l'établissement",
            "au nom de mon employeur",
            "en tant que porte-parole",
            "en tant que porte parole",
            "je représente le CNES",
            "je représente l'agence",
            "position officielle",
            "nous, le CNES",
            "on behalf of the agency",
            "on behalf of CNES",
            "on behalf of my employer",
            "as a spokesperson",
            "as spokesperson",
            "as the agency's spokesperson",
            "official position",
            "speaking for the agency",
        ],
        "message_fr": (
            "Parlez « à propos » de l'agence, pas « en son nom » (« {match} ») : en dehors des "
            "porte-parole, seule la DCO s'exprime au nom de l'agence, après validation. Restez factuel."
        ),
        "message_en": (
            "Speak “about” the agency, not “on its behalf” (“{match}”): apart from spokespersons, only "
            "the DCO speaks in the agency's name, after validation. Stay factual."
        ),
        "guide": (
            "Je parle « à propos du CNES » et pas « au nom du CNES ». En dehors des porte-paroles, la DCO "
            "est la seule structure à pouvoir s'exprimer au nom du CNES sur les réseaux sociaux."
        ),
    },
    {
        "code": "opinion.political",
        "kind": "term",
        "severity": "warn",
        "patterns": [
            # Not "votez pour": outreach contests ("votez pour le nom du rover") use it all the time.
            "je vote",
            "appel à voter",
            "élection*",
            "présidentielle*",
            "législatives",
            "election*",
            "parti politique",
            "political party",
            "extrême droite",
            "extrême gauche",
            "far right",
            "far left",
            "fascis*",
            "facho*",
            "gauchiste*",
            "pétition",
            "petition",
            "boycott*",
            "wokisme",
        ],
        "message_fr": (
            "Opinion politique (« {match} ») : en tant qu'agent du service public, vous avez une "
            "obligation de neutralité ; ne partagez pas d'opinions politiques."
        ),
        "message_en": (
            "Political opinion (“{match}”): as a public servant you have a duty of neutrality; do not "
            "share political opinions."
        ),
        "guide": (
            "Vous exercez une mission de service public et avez une obligation de neutralité : ne partagez "
            "pas d'opinions politiques, morales ou religieuses."
        ),
    },
    {
        "code": "opinion.religious_moral",
        "kind": "term",
        "severity": "warn",
        "patterns": [
            # Phrases rather than "Dieu" or "God" alone: "Mon Dieu, quelle image !" is no opinion.
            "que dieu",
            "dieu bénisse",
            "foi en dieu",
            "croire en dieu",
            "parole de dieu",
            "god bless",
            "faith in god",
            "word of god",
            "allah",
            "jésus christ",
            "jesus christ",
            "prière*",
            "prions",
            "pray for",
            "praying for",
            "religion*",
            "religieu*",
            "religious",
            "islam*",
            "chrétien*",
            "christian*",
            "musulman*",
            "muslim*",
            "avortement",
            "abortion",
            "euthanasi*",
            "peine de mort",
            "death penalty",
            "blasphème*",
        ],
        "message_fr": (
            "Opinion religieuse ou morale (« {match} ») : obligation de neutralité, ne partagez pas "
            "d'opinions morales ou religieuses."
        ),
        "message_en": (
            "Religious or moral opinion (“{match}”): duty of neutrality, do not share moral or religious "
            "opinions."
        ),
        "guide": (
            "Vous exercez une mission de service public et avez une obligation de neutralité : ne partagez "
            "pas d'opinions politiques, morales ou religieuses."
        ),
    },
    {
        "code": "account.dedicated",
        "kind": "term",
        "severity": "warn",
        "patterns": [
            "compte du projet",
            "compte officiel du projet",
            "nouveau compte",
            "j'ai créé un compte",
            "project account",
            "our new account",
            "new account for",
        ],
        "message_fr": (
            "Ne créez pas de compte dédié à l'agence ou à un projet (« {match} ») : proposez vos sujets à "
            "la DCO pour les comptes officiels."
        ),
        "message_en": (
            "Do not create an account for the agency or a project (“{match}”): propose your subjects to "
            "the DCO for the official accounts."
        ),
        "guide": "Ne créez pas de compte CNES ou de compte associés à des projets/activités du CNES.",
    },
    {
        "code": "privacy.personal_data",
        "kind": "regex",
        "severity": "warn",
        "quote_match": False,
        "patterns": [
            r"(?<![\d+])(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)",
            r"(?<!\w)\+\d{1,3}[\s.-]?\d(?:[\s.-]?\d){7,12}(?!\d)",
        ],
        "message_fr": (
            "Numéro de téléphone : ne publiez jamais votre numéro, votre adresse personnelle ou d'autres "
            "informations sensibles, ni celles d'autrui sans son accord."
        ),
        "message_en": (
            "Phone number: never publish your phone number, home address or other sensitive information, "
            "nor anyone else's without their consent."
        ),
        "guide": (
            "Ne publiez jamais votre adresse postale personnelle, numéro de téléphone ou d'autres "
            "informations sensibles."
        ),
    },
    # --- Photos -------------------------------------------------------------------------------------
    {
        "code": "photo.check",
        "kind": "term",
        "severity": "warn",
        "on_photo": True,
        "patterns": [
            "photo",
            "photos",
            "photographie",
            "photographies",
            "selfie",
            "selfies",
            "prise de vue",
            "prises de vue",
            "picture",
            "pictures",
            "vidéo",
            "vidéos",
            "video",
            "videos",
            "en coulisses",
            "behind the scenes",
        ],
        "message_fr": (
            "Photo ou vidéo : vérifiez les détails avant de publier — badges, écrans, post-it avec des "
            "mots de passe, équipements endommagés. Les prises de vues non encadrées sont interdites sur "
            "les sites (accord de la sécurité, DCO)."
        ),
        "message_en": (
            "Photo or video: check the details before publishing — badges, screens, post-its with "
            "passwords, damaged equipment. Unsupervised filming is forbidden on the sites (security "
            "approval, DCO)."
        ),
        "guide": (
            "Attention aux détails ! il arrive qu'un badge ou un post-it avec des mots de passe puisse se "
            "glisser sur une photo d'équipe d'apparence anodine… À ce jour, les prises de vues non "
            "encadrées sont interdites sur nos sites."
        ),
    },
]


# Where the guide says it, in the reader's language (section titles of the guide, translated), and
# what to do instead. Applied to GUIDE_RULES below; the DCO edits them like the rest of the rule.
_P = {
    "crisis": ("« Et en cas de crise ? » — Ce qui change", "“And in a crisis?” — What changes"),
    "crisis_reply": (
        "« Et en cas de crise ? » — Ne cédez pas à la tentation de répondre ou de démentir",
        "“And in a crisis?” — Do not give in to the temptation to reply or deny",
    ),
    "details": (
        "« Respectez les règles de sécurité / confidentialité » — Attention aux détails !",
        "“Follow the security / confidentiality rules” — Watch the details!",
    ),
    "confidential": (
        "« Respectez les règles de sécurité / confidentialité »",
        "“Follow the security / confidentiality rules”",
    ),
    "privacy": ("« Protégez votre vie privée »", "“Protect your privacy”"),
    "networks": (
        "« En résumé : sur quels réseaux ai-je intérêt / le droit d'utiliser un compte individuel ? »",
        "“In short: on which networks may I use a personal account?”",
    ),
    "voice": (
        "« Avant de publier : le top 3 des bons réflexes » — 3. Je parle « à propos du CNES » et pas "
        "« au nom du CNES »",
        "“Before posting: the top 3 good habits” — 3. I speak “about the agency”, not “on its behalf”",
    ),
    "opinions": (
        "« Attention au top 3 des faux pas » — 2. Je partage des opinions personnelles",
        "“Beware of the top 3 missteps” — 2. I share personal opinions",
    ),
    "criticism": (
        "« Attention au top 3 des faux pas » — 3. Je critique le CNES, ses activités, des collègues",
        "“Beware of the top 3 missteps” — 3. I criticise the agency, its work, colleagues",
    ),
    "account": (
        "« Attention au top 3 des faux pas » — 1. Je crée un compte dédié à mon activité/mon projet",
        "“Beware of the top 3 missteps” — 1. I create an account for my work or project",
    ),
}
_ASK_DCO = ("Demandez à la DCO.", "Ask the DCO.")
_SHARE_AS_IS = (
    "Partagez le communiqué officiel tel quel, sans rien ajouter, ou demandez à la DCO.",
    "Share the official statement as is, add nothing, or ask the DCO.",
)
_EXPLANATIONS = {
    "crisis.freeze": ("crisis", _SHARE_AS_IS),
    "crisis.freeze_official": (
        "crisis",
        (
            "Passez par le circuit des déclarations, ou demandez à la DCO.",
            "Go through the statement workflow, or ask the DCO.",
        ),
    ),
    "crisis.after_freeze": ("crisis", _SHARE_AS_IS),
    "crisis.denial": (
        "crisis_reply",
        (
            "Ne démentez pas : transmettez l'affirmation à la DCO, et partagez le communiqué officiel "
            "tel quel.",
            "Do not deny: pass the claim on to the DCO, and share the official statement as is.",
        ),
    ),
    "crisis.relay_official": (
        "crisis",
        ("Partagez-le tel quel, n'ajoutez rien.", "Share it as is, add nothing."),
    ),
    "crisis.relay_addition": ("crisis", _SHARE_AS_IS),
    "crisis.opinion": ("crisis", _SHARE_AS_IS),
    "crisis.reply": (
        "crisis_reply",
        (
            "Ne répondez pas : transmettez le message à la DCO.",
            "Do not reply: pass the message on to the DCO.",
        ),
    ),
    "tone.polemic": ("criticism", _ASK_DCO),
    "network.linkedin": ("networks", ("", "")),
    "network.measure": (
        "networks",
        ("Repartagez plutôt les publications officielles.", "Rather reshare the official posts."),
    ),
    "network.x_caution": (
        "networks",
        ("Repartagez plutôt les publications officielles.", "Rather reshare the official posts."),
    ),
    "network.video_dco_only": (
        "networks",
        (
            "Partagez les vidéos officielles, et proposez votre sujet à la DCO.",
            "Share the official videos, and propose your subject to the DCO.",
        ),
    ),
    "network.official_only": (
        "networks",
        ("Proposez votre sujet à la DCO.", "Propose your subject to the DCO."),
    ),
    "confidential.label": (
        "confidential",
        ("Ne publiez pas ce document ; demandez à la DCO.", "Do not publish this document; ask the DCO."),
    ),
    "confidential.dr_marker": ("confidential", _ASK_DCO),
    "confidential.mention": ("confidential", _ASK_DCO),
    "export.control": (
        "confidential",
        ("Vérifiez auprès de votre responsable.", "Check with your manager."),
    ),
    "export.marking": (
        "confidential",
        ("Ne publiez pas ces informations.", "Do not publish this information."),
    ),
    "confidential.password_mention": ("details", ("", "")),
    "confidential.credential": (
        "details",
        (
            "Retirez le secret du texte, puis changez-le : il a pu circuler.",
            "Remove the secret from the text, then change it: it may have been seen.",
        ),
    ),
    "confidential.secret_in_photo": (
        "details",
        (
            "Choisissez une autre photo (ou floutez-la), puis changez le secret qu'elle montre.",
            "Choose another photo (or blur it), then change the secret it shows.",
        ),
    ),
    "equipment.weakness": ("confidential", _ASK_DCO),
    "embargo.mention": ("confidential", _ASK_DCO),
    "embargo.active": (
        "confidential",
        ("Attendez la fin de l'embargo.", "Wait until the embargo ends."),
    ),
    "agency.voice": (
        "voice",
        (
            "Parlez de votre activité en restant factuel ; pour parler au nom de l'agence, demandez à "
            "la DCO.",
            "Talk about your own work, factually; to speak for the agency, ask the DCO.",
        ),
    ),
    "opinion.political": (
        "opinions",
        ("Gardez ces opinions pour vous sur ce compte.", "Keep these opinions off this account."),
    ),
    "opinion.religious_moral": (
        "opinions",
        ("Gardez ces opinions pour vous sur ce compte.", "Keep these opinions off this account."),
    ),
    "account.dedicated": (
        "account",
        ("Proposez votre sujet à la DCO.", "Propose your subject to the DCO."),
    ),
    "privacy.personal_data": (
        "privacy",
        (
            "Retirez le numéro, ou demandez l'accord de la personne.",
            "Remove the number, or ask the person's consent.",
        ),
    ),
    "photo.check": ("details", ("", "")),
}
for _rule in GUIDE_RULES:
    _passage, (_advice_fr, _advice_en) = _EXPLANATIONS[_rule["code"]]
    _rule.setdefault("passage_fr", _P[_passage][0])
    _rule.setdefault("passage_en", _P[_passage][1])
    _rule.setdefault("advice_fr", _advice_fr)
    _rule.setdefault("advice_en", _advice_en)


def seed_rules(rule_model) -> int:
    """Create the guide's rules that are missing (by code); never touch existing ones. → created."""
    created = 0
    # A historical model (data migrations) may predate some fields: seed those it has.
    known = {f.name for f in rule_model._meta.get_fields()}
    for data in GUIDE_RULES:
        fields = {name: value for name, value in data.items() if name in known}
        fields["patterns"] = "\n".join(fields.get("patterns", []))
        code = fields.pop("code")
        _, was_created = rule_model.objects.get_or_create(code=code, defaults=fields)
        created += was_created
    return created
