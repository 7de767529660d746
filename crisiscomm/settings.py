"""Settings, read from the environment (12-factor, django-environ).

With nothing set: an embedded PostgreSQL server under var/ and Celery's filesystem broker, so one
machine runs web, worker and beat with no external service.
With DATABASE_URL / REDIS_URL: that PostgreSQL server and Redis.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CRISISCOMM_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# The fallback key only serves local runs; `check --deploy` flags it, production sets SECRET_KEY.
SECRET_KEY = env.str(
    "SECRET_KEY", default="django-insecure-local-only-key-do-not-use-in-production-0123456789"
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # accounts (issue 10): expiring hashed API tokens, one lockout for every login door,
    # Swagger UI and Redoc served from the service itself.
    "knox",
    "axes",
    "drf_spectacular_sidecar",
    "django_filters",
    "drf_spectacular",
    "django_htmx",
    "mozilla_django_oidc",
    # Capabilities, lowest first: each depends only on the ones above it.
    "apps.core",  # outbound: outbound targets (SSRF guard) and encrypted secret fields
    "apps.audit",
    "apps.accounts",
    "apps.posts",
    "apps.notifications",
    "apps.crises",
    "apps.statements",
    "apps.policy",
    "apps.watch",
    "apps.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # accounts (issue 10): oversized bodies refused first; CSP on every response.
    "crisiscomm.middleware.BodySizeLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # accounts (issue 10): who is acting (for account events); lockouts turned into responses.
    "apps.accounts.middleware.RequestContextMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crisiscomm.urls"
WSGI_APPLICATION = "crisiscomm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.web.context_processors.crisiscomm",
            ],
        },
    },
]

# PostgreSQL everywhere: DATABASE_URL in production and CI; without it, the embedded server
# under var/pgdata (crisiscomm/embedded_db.py), started on first use.
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    # A Unix-socket host arrives percent-encoded (postgres://user@%2Fpath%2Fto%2Fdir/name).
    DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"])
else:
    from crisiscomm.embedded_db import database_settings

    DATABASES = {"default": database_settings(VAR_DIR)}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImportError("crisiscomm runs on PostgreSQL only: DATABASE_URL=postgres://…, or unset it")
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
# --- notifications helper (issue 13): persistent connections, checked before reuse ---
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=600))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# gate helper (issue 13): Django's PostgreSQL backend whose reuse check above skips the `SELECT 1`
# round trip when the idle session has nothing waiting on its socket (crisiscomm/db_backends).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "crisiscomm.db_backends.postgresql"
# --- end notifications helper ---
# --- freeze helper (issue 11): a sender's session holds the gate lock across a send; TCP
# keepalives notice a dead peer/server instead of leaving the session hanging (no effect on a
# Unix socket) ---
DATABASES["default"].setdefault("OPTIONS", {})
_keepalives = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
for _key, _value in _keepalives.items():
    DATABASES["default"]["OPTIONS"].setdefault(_key, _value)
# --- end freeze helper ---
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# accounts (issue 10): axes first, so that a locked-out (account, address) is refused before any
# password is checked, by every door (web, /admin/login/, the token endpoint, SSO).
AUTHENTICATION_BACKENDS = [
    "apps.accounts.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
CRISISCOMM_TRUSTED_PROXIES = env.int("CRISISCOMM_TRUSTED_PROXIES", default=0)
AXES_FAILURE_LIMIT = env.int("CRISISCOMM_LOCKOUT_FAILURES", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("CRISISCOMM_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout do not restart it: it ends COOLOFF after the last counted failure.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "apps.accounts.network.axes_client_ip"
AXES_USERNAME_CALLABLE = "apps.accounts.network.axes_username"
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
AXES_VERBOSE = False
CRISISCOMM_TOKEN_TTL = timedelta(hours=env.int("CRISISCOMM_TOKEN_TTL_HOURS", default=12))
REST_KNOX = {
    "TOKEN_TTL": CRISISCOMM_TOKEN_TTL,
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": None,
}
# GET /api/v1/gate/ (issue 13): a valid token is remembered this long per process (a revoked
# one reads the gate at most this much longer; 0 = check every poll), and the gate's answer is
# mirrored in Redis this long (apps.posts.gate_mirror; 0 = no mirror).
CRISISCOMM_GATE_TOKEN_MEMO_SECONDS = env.float("CRISISCOMM_GATE_TOKEN_MEMO_SECONDS", default=5.0)
CRISISCOMM_GATE_MIRROR_SECONDS = env.float("CRISISCOMM_GATE_MIRROR_SECONDS", default=1.0)
# ...and each process reuses an answer Redis confirmed this long (a declaration waits it out).
CRISISCOMM_GATE_LOCAL_SECONDS = env.float("CRISISCOMM_GATE_LOCAL_SECONDS", default=0.05)
CRISISCOMM_MAX_BODY_BYTES = env.int("CRISISCOMM_MAX_BODY_BYTES", default=1024 * 1024)
# The audit chain's HMAC key: in the environment, never in the database (see README).
CRISISCOMM_AUDIT_KEY = env.str("CRISISCOMM_AUDIT_KEY", default="")
# Retired audit keys (comma-separated): older entries still verify after a rotation.
CRISISCOMM_AUDIT_OLD_KEYS = env.list("CRISISCOMM_AUDIT_OLD_KEYS", default=[])
# django-csp: no inline script anywhere; styles may be inline (style attributes, Redoc).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# OpenID Connect single sign-on, on only when an identity provider is configured.
OIDC_ENABLED = bool(env.str("CRISISCOMM_OIDC_ISSUER", default=""))
OIDC_RP_CLIENT_ID = env.str("CRISISCOMM_OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("CRISISCOMM_OIDC_CLIENT_SECRET", default="")
OIDC_RP_SIGN_ALGO = env.str("CRISISCOMM_OIDC_SIGN_ALGO", default="RS256")
_oidc_issuer = env.str("CRISISCOMM_OIDC_ISSUER", default="").rstrip("/")
OIDC_OP_ISSUER = _oidc_issuer  # the backend checks the id_token's `iss` against it
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str(
    "CRISISCOMM_OIDC_AUTHORIZATION_ENDPOINT", default=f"{_oidc_issuer}/protocol/openid-connect/auth"
)
OIDC_OP_TOKEN_ENDPOINT = env.str(
    "CRISISCOMM_OIDC_TOKEN_ENDPOINT", default=f"{_oidc_issuer}/protocol/openid-connect/token"
)
OIDC_OP_USER_ENDPOINT = env.str(
    "CRISISCOMM_OIDC_USER_ENDPOINT", default=f"{_oidc_issuer}/protocol/openid-connect/userinfo"
)
OIDC_OP_JWKS_ENDPOINT = env.str(
    "CRISISCOMM_OIDC_JWKS_ENDPOINT", default=f"{_oidc_issuer}/protocol/openid-connect/certs"
)
OIDC_RP_SCOPES = "openid email profile"
# Claim holding the identity provider's groups, and how they map to our roles ("idp-group=role,…").
OIDC_GROUPS_CLAIM = env.str("CRISISCOMM_OIDC_GROUPS_CLAIM", default="groups")
OIDC_GROUP_ROLE_MAP = env.dict("CRISISCOMM_OIDC_GROUP_ROLE_MAP", default={})
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.insert(1, "apps.accounts.oidc.RoleMappingOIDCBackend")  # after axes

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
# Web helper: date formats of both languages (24-hour clock, zone named): apps/web/formats.
FORMAT_MODULE_PATH = ["apps.web.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Security: strict unless DEBUG; each can be relaxed behind a TLS-terminating proxy.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("CRISISCOMM_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("CRISISCOMM_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("CRISISCOMM_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crisiscomm <dco@crisiscomm.invalid>")

REST_FRAMEWORK = {
    # Token first, so that an anonymous call gets 401 with WWW-Authenticate, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # gate helper (issue 13): knox's tokens checked in one query, without knox's per-request
        # sweep of the caller's expired tokens (they are still refused; see the module).
        "apps.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    # accounts (issue 10): a JSON body must be an object (a list body is a 400, not a 500).
    "DEFAULT_PARSER_CLASSES": [
        "crisiscomm.parsers.ObjectJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "crisiscomm API",
    "DESCRIPTION": "Crisis mode for an organisation's social media: freeze, notify, speak, resume.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # accounts (issue 10): Swagger UI and Redoc from the service's own static files (offline).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several apps take a network; one enum name for the one choice set.
    "ENUM_NAME_OVERRIDES": {
        "NetworkEnum": "apps.posts.models.Network",
        "CrisisStatusEnum": "apps.crises.models.CrisisStatus",
        "PostStatusEnum": "apps.posts.models.PostStatus",
        "PolicyVerdictEnum": "apps.policy.models.Verdict",
        "RuleKindEnum": "apps.policy.models.RuleKind",
    },
}

# Celery: Redis in production; kombu's filesystem transport when no REDIS_URL, so that a real
# worker and a real beat run on one machine with no server.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # default: "control/" in the cwd
        "store_processed": False,
    }
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
# --- notifications helper (issue 13): a down or hung broker costs a request ~2 s, never 45 ---
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
# Materialise, relay and reminders: their own queue, consumed ahead of the deliveries.
CRISISCOMM_FANOUT_QUEUE = env.str("CRISISCOMM_FANOUT_QUEUE", default="notifications.fanout")
# Messages per second to the SMTP relay, across all workers (0: no limit).
CRISISCOMM_SMTP_RATE = env.float("CRISISCOMM_SMTP_RATE", default=0)
# bench/gate.py only: serves a bare Django view at /bench/bare/ to compare the gate with. Off.
CRISISCOMM_BENCH_VIEWS = env.bool("CRISISCOMM_BENCH_VIEWS", default=False)
# --- end notifications helper ---
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-task leaves it to be redelivered
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env.bool("CRISISCOMM_TASKS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# crisiscomm's own settings (CRISISCOMM_*).
CRISIS_MIN_FREEZE = timedelta(hours=24)
CRISISCOMM_PUBLISH_INTERVAL = env.int("CRISISCOMM_PUBLISH_INTERVAL", default=15)
CRISISCOMM_PUBLISH_BATCH = env.int("CRISISCOMM_PUBLISH_BATCH", default=100)
CRISISCOMM_RETRACTION_WINDOW = timedelta(minutes=env.int("CRISISCOMM_RETRACTION_WINDOW_MINUTES", default=30))
# --- freeze helper (issue 11) ---
# The hard deadline of one whole send (DNS, connect, TLS, request, answer): a declaration waits
# at most this long for the sends in flight.
CRISISCOMM_SEND_DEADLINE_SECONDS = env.float("CRISISCOMM_SEND_DEADLINE_SECONDS", default=20.0)
# After a lift, posts due at once leave at most one per account per this many minutes.
CRISISCOMM_RESUME_SPACING_MINUTES = env.int("CRISISCOMM_RESUME_SPACING_MINUTES", default=15)
# --- end freeze helper ---
CRISISCOMM_NOTIFY_RELAY_INTERVAL = env.int("CRISISCOMM_NOTIFY_RELAY_INTERVAL", default=30)
CRISISCOMM_REMINDER_DELAY = timedelta(minutes=env.int("CRISISCOMM_REMINDER_DELAY_MINUTES", default=120))
CRISISCOMM_ACK_LINK_MAX_AGE = timedelta(days=env.int("CRISISCOMM_ACK_LINK_MAX_AGE_DAYS", default=14))
# Web helper: links in notices follow the port the service runs on (`make run PORT=…`).
CRISISCOMM_BASE_URL = env.str(
    "CRISISCOMM_BASE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}"
)
CRISISCOMM_DCO_CONTACT = env.str("CRISISCOMM_DCO_CONTACT", default="dco@crisiscomm.invalid")

# --- outbound: configured targets and secrets at rest (apps/core) ---
# Hosts, addresses or CIDRs that outbound requests may reach although not public (comma-separated).
CRISISCOMM_OUTBOUND_ALLOW = env.str("CRISISCOMM_OUTBOUND_ALLOW", default="")
# Seconds an outbound target's DNS lookup may take before the send is refused (retried later).
CRISISCOMM_OUTBOUND_DNS_TIMEOUT = env.float("CRISISCOMM_OUTBOUND_DNS_TIMEOUT", default=5.0)
# Fernet keys for secrets at rest (comma-separated; the first encrypts, all decrypt). Unset: a key
# derived from SECRET_KEY, which `check --deploy` flags.
CRISISCOMM_FIELD_KEYS = env.list("CRISISCOMM_FIELD_KEYS", default=[])
# --- end outbound ---

CELERY_BEAT_SCHEDULE = {
    "publish-due-posts": {
        "task": "apps.posts.tasks.publish_due_posts",
        "schedule": float(CRISISCOMM_PUBLISH_INTERVAL),
    },
    "relay-queued-notices": {
        "task": "apps.notifications.tasks.relay_queued_notices",
        "schedule": float(CRISISCOMM_NOTIFY_RELAY_INTERVAL),
    },
    "send-acknowledgement-reminders": {
        "task": "apps.notifications.tasks.send_reminders",
        "schedule": 300.0,
    },
    # Sign-in deletes its caller's expired tokens; this catches those who never sign in again.
    "sweep-expired-tokens": {
        "task": "apps.accounts.tasks.sweep_expired_tokens",
        "schedule": 24 * 3600.0,
    },
}

# The watch of the agency's professional accounts (apps/watch): a sweep every WATCH_INTERVAL seconds
# during a crisis (always with WATCH_ALWAYS); at most WATCH_CONCURRENCY reads at once, at most
# WATCH_HOST_RATE requests a second to one host unless WATCH_HOST_RATES ("host=rate,…") says otherwise.
CRISISCOMM_WATCH_INTERVAL = env.int("CRISISCOMM_WATCH_INTERVAL", default=60)
CRISISCOMM_WATCH_ALWAYS = env.bool("CRISISCOMM_WATCH_ALWAYS", default=False)
CRISISCOMM_WATCH_CONCURRENCY = env.int("CRISISCOMM_WATCH_CONCURRENCY", default=16)
CRISISCOMM_WATCH_RECORDERS = env.int("CRISISCOMM_WATCH_RECORDERS", default=4)
CRISISCOMM_WATCH_TIMEOUT = env.float("CRISISCOMM_WATCH_TIMEOUT", default=10.0)
CRISISCOMM_WATCH_HOST_RATE = env.float("CRISISCOMM_WATCH_HOST_RATE", default=2.0)
CRISISCOMM_WATCH_HOST_RATES = {
    host: float(rate)
    for host, rate in env.dict("CRISISCOMM_WATCH_HOST_RATES", default={"public.api.bsky.app": "10"}).items()
}
CRISISCOMM_BLUESKY_APPVIEW = env.str("CRISISCOMM_BLUESKY_APPVIEW", default="https://public.api.bsky.app")
CELERY_BEAT_SCHEDULE["watch-sweep"] = {
    "task": "apps.watch.tasks.watch_sweep",
    "schedule": float(CRISISCOMM_WATCH_INTERVAL),
}
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "WatchKindEnum": "apps.watch.models.WatchKind",
        "WatchNetworkEnum": "apps.watch.models.WatchNetwork",
        "WatchRegistrationEnum": "apps.watch.models.Registration",
        "SightingKindEnum": "apps.watch.models.SightingKind",
        "SightingStatusEnum": "apps.watch.models.SightingStatus",
    }
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
