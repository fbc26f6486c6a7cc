"""Gatehouse settings: every value comes from the environment.

The defaults are the embedded setup `make run` uses (SQLite, a filesystem Celery broker, files
and emails on disk under DATA_DIR). Production differs only by environment variables; see the
README for the table.
"""

import logging
from datetime import timedelta
from email.utils import getaddresses
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from index_site.log_format import configure_structlog, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set unless DEBUG is on.")
    SECRET_KEY = "insecure-development-key-only-for-debug-" + "x" * 24  # DEBUG only

# Secret from which API-token root keys are derived (never stored). Keyed by id so it can rotate:
# new tokens use TOKEN_SECRET_ID, older ids keep verifying while listed in TOKEN_SECRETS.
TOKEN_SECRETS = env.dict("TOKEN_SECRETS", default={})
if not TOKEN_SECRETS:
    TOKEN_SECRETS = {"1": SECRET_KEY}
TOKEN_SECRET_ID = env.str("TOKEN_SECRET_ID", default=next(iter(TOKEN_SECRETS)))
TOKEN_PREFIX = env.str("TOKEN_PREFIX", default="pypi")
# Locations (hosts) written into tokens this index accepts; new tokens carry SITE_HOST. List the
# old host here when the site moves, so existing tokens keep working.
TOKEN_LOCATIONS = env.list("TOKEN_LOCATIONS", default=[])
# Public keys secret scanners sign leak reports with, as JSON {"key identifier": "PEM", ...}
# (GitHub publishes its keys at https://api.github.com/meta/public_keys/token_scanning).
SECRET_SCANNING_PUBLIC_KEYS = env.json("SECRET_SCANNING_PUBLIC_KEYS", default={})

# Key encrypting TOTP secrets at rest (Fernet). Derived from SECRET_KEY (HKDF) unless given.
# Comma-separated Fernet keys, newest first, rotate: new secrets use the first, all decrypt.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")

# localhost, not 127.0.0.1: browsers refuse security keys and passkeys on an IP address, and the
# server (Procfile), email links and the WebAuthn RP ID all follow this one value.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
SITE_NAME = env.str("SITE_NAME", default="Gatehouse")
_site = urlsplit(SITE_URL)
SITE_HOST = _site.hostname or "localhost"
SITE_IS_HTTPS = _site.scheme == "https"
TOKEN_LOCATIONS = list(dict.fromkeys([SITE_HOST, *TOKEN_LOCATIONS]))

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[SITE_HOST, "127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])
# Number of reverse proxies in front of the app whose X-Forwarded-For hop is trusted.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

INSTALLED_APPS = [
    "projects.apps.GatehouseAdminConfig",  # django.contrib.admin behind the site login and 2FA
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "index_site",
    "auditlog",
    "accounts",
    "projects",
    "tokens",
    "publishing",
]

MIDDLEWARE = [
    # A safe request for a view marked @stateless (the install path) is answered through
    # STATELESS_MIDDLEWARE below instead of the rest of this list (index_site.stateless).
    "index_site.stateless.StatelessViewMiddleware",
    "index_site.middleware.RequestContextMiddleware",
    # A database, cache or storage outage in any view answers 503 (index_site.outages).
    "index_site.outages.OutageMiddleware",
    # A request that changes nothing skips Django's per-request connection check (a round trip)
    # and runs again if it meets a dead connection (index_site.fresh_connection).
    "index_site.fresh_connection.DroppedConnectionMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "index_site.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.known_clients.KnownDeviceCookieMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# What only pages about the person asking need: their session, CSRF token, user, device, messages.
PERSONAL_MIDDLEWARE = {
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.known_clients.KnownDeviceCookieMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
}
STATELESS_MIDDLEWARE = [m for m in MIDDLEWARE[1:] if m not in PERSONAL_MIDDLEWARE]

ROOT_URLCONF = "index_site.urls"
WSGI_APPLICATION = "index_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "index_site.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'gatehouse.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process and the Celery worker share the file without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # Parameters sent apart from the SQL, and statements a connection runs five times
        # prepared: PostgreSQL then skips parsing and planning them (a third of an upload's
        # database time). Off behind a pooler that cannot keep prepared statements (PgBouncer
        # in transaction mode before 1.21).
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=5
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# CACHE_URL (django-environ syntax) overrides; otherwise Redis when REDIS_URL is set, else a file
# cache, which the web process and the worker share, so rate limits hold across processes.
CACHES = {
    "default": env.cache_url(
        "CACHE_URL",
        default=(
            REDIS_URL.replace("redis://", "rediscache://", 1)
            if REDIS_URL
            else f"filecache://{DATA_DIR / 'cache'}"
        ),
    ),
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "projects:mine"
LOGOUT_REDIRECT_URL = "home"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "name", "email")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "accounts.passwords.BreachedPasswordValidator"},
]
# A k-anonymity range endpoint compatible with HaveIBeenPwned's (`<url>/<first 5 hex of SHA-1>`).
# Empty: the breached-password check is skipped.
BREACHED_PASSWORDS_URL = env.str("BREACHED_PASSWORDS_URL", default="")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60)
EMAIL_VERIFICATION_MAX_AGE = env.int("EMAIL_VERIFICATION_MAX_AGE", default=60 * 60 * 24)
REAUTH_MAX_AGE = timedelta(minutes=30)
# Failed logins in five minutes, all clients together, that turn the login surge on: tighter
# limits for unknown clients, never a refusal by itself (accounts.ratelimits).
LOGIN_SURGE_FAILURES = env.int("LOGIN_SURGE_FAILURES", default=1000)

# "all": every maintainer needs two-factor authentication (PyPI since 2024).
# "critical": only maintainers of projects flagged critical (PyPI's 2022-23 rollout).
TWO_FACTOR_POLICY = env.str("TWO_FACTOR_POLICY", default="all")
# Critical projects (projects.services.critical, daily): the top CRITICAL_PROJECTS_TOP_PERCENT
# of projects by downloads over the last CRITICAL_PROJECTS_WINDOW_DAYS days become critical, if
# they have at least CRITICAL_PROJECTS_MIN_DOWNLOADS downloads in that window (so a small index
# does not flag a project with a handful of downloads). 0 percent turns the job off. A project
# is never un-flagged automatically; an administrator can.
CRITICAL_PROJECTS_TOP_PERCENT = env.float("CRITICAL_PROJECTS_TOP_PERCENT", default=1.0)
CRITICAL_PROJECTS_WINDOW_DAYS = env.int("CRITICAL_PROJECTS_WINDOW_DAYS", default=180)
CRITICAL_PROJECTS_MIN_DOWNLOADS = env.int("CRITICAL_PROJECTS_MIN_DOWNLOADS", default=1000)
# How long a project role invitation (and its signed email link) stays valid, in hours.
ROLE_INVITATION_MAX_AGE = timedelta(hours=env.int("ROLE_INVITATION_MAX_AGE_HOURS", default=72))

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = SITE_IS_HTTPS
SESSION_COOKIE_NAME = "__Host-sessionid" if SITE_IS_HTTPS else "sessionid"
CSRF_COOKIE_SECURE = SITE_IS_HTTPS
CSRF_COOKIE_NAME = "__Host-csrftoken" if SITE_IS_HTTPS else "csrftoken"
CSRF_FAILURE_VIEW = "index_site.views.csrf_failure"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SITE_IS_HTTPS)
# The upload API answers plain HTTP with "SSL is required" itself: twine fails on a redirect.
SECURE_REDIRECT_EXEMPT = [r"^_/health(/live)?$", r"^legacy/?$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if SITE_IS_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SITE_IS_HTTPS
SECURE_HSTS_PRELOAD = SITE_IS_HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where collectstatic writes (the Docker image collects at build time, outside the data volume).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "staticfiles")))
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "files")))
MEDIA_URL = "/files/"
# FILE_STORAGE: "filesystem" (MEDIA_ROOT) or "s3" (AWS_* variables, read by django-storages).
FILE_STORAGE = env.str("FILE_STORAGE", default="filesystem")
STORAGES = {
    "default": {
        "BACKEND": (
            "storages.backends.s3.S3Storage"
            if FILE_STORAGE == "s3"
            else "django.core.files.storage.FileSystemStorage"
        ),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# How a download leaves (projects.views.files): "app", the web worker streams the file (the
# embedded default); "x-accel-redirect", the app checks and counts, then the front proxy sends
# the file from FILE_DOWNLOADS_INTERNAL_PREFIX (nginx's X-Accel-Redirect; docker-compose's
# proxy is set up for it); "redirect", a 302 to FILE_DOWNLOADS_BASE_URL + the path (a CDN) or,
# without one, to the storage's own URL (a presigned S3 URL valid FILE_DOWNLOADS_URL_SECONDS).
FILE_DOWNLOADS = env.str("FILE_DOWNLOADS", default="app")
if FILE_DOWNLOADS not in {"app", "x-accel-redirect", "redirect"}:
    raise ImproperlyConfigured("FILE_DOWNLOADS must be app, x-accel-redirect or redirect.")
FILE_DOWNLOADS_INTERNAL_PREFIX = env.str(
    "FILE_DOWNLOADS_INTERNAL_PREFIX", default="/_protected-files/"
)
FILE_DOWNLOADS_BASE_URL = env.str("FILE_DOWNLOADS_BASE_URL", default="").rstrip("/")
FILE_DOWNLOADS_URL_SECONDS = env.int("FILE_DOWNLOADS_URL_SECONDS", default=300)
AWS_QUERYSTRING_EXPIRE = FILE_DOWNLOADS_URL_SECONDS
if FILE_DOWNLOADS == "redirect" and not FILE_DOWNLOADS_BASE_URL and FILE_STORAGE != "s3":
    raise ImproperlyConfigured(
        "FILE_DOWNLOADS=redirect needs FILE_STORAGE=s3 or a FILE_DOWNLOADS_BASE_URL: files on a "
        "local disk have no URL of their own to redirect to."
    )
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_DEFAULT_ACL = None
WHITENOISE_USE_FINDERS = DEBUG

# Uploads (/legacy/). Per-file and per-project limits in bytes (PyPI's 100 MiB and 10 GiB);
# admins raise them per project with Project.upload_limit / total_size_limit.
UPLOAD_MAX_FILE_SIZE = env.int("UPLOAD_MAX_FILE_SIZE", default=100 * 1024 * 1024)
UPLOAD_MAX_PROJECT_SIZE = env.int("UPLOAD_MAX_PROJECT_SIZE", default=10 * 1024 * 1024 * 1024)
# New files may be added to a release for this many days after its first file.
UPLOAD_RELEASE_MAX_AGE_DAYS = env.int("UPLOAD_RELEASE_MAX_AGE_DAYS", default=14)
# Owners may delete a file this many hours after its upload (pre-releases at any time); after
# that they yank it instead (PEP 763's rule; admins delete at any time, with a reason).
DELETION_WINDOW_HOURS = env.int("DELETION_WINDOW_HOURS", default=72)
# A project its owners deleted keeps its name for them this many days; then anyone may take it.
DELETED_NAME_RESERVATION_DAYS = env.int("DELETED_NAME_RESERVATION_DAYS", default=30)
# New projects created by uploads (django-ratelimit rates), per user and per client IP.
UPLOAD_PROJECT_CREATE_RATE_USER = env.str("UPLOAD_PROJECT_CREATE_RATE_USER", default="20/h")
UPLOAD_PROJECT_CREATE_RATE_IP = env.str("UPLOAD_PROJECT_CREATE_RATE_IP", default="40/h")
# Reports of projects a signed-in user may send (a django-ratelimit rate, per user).
PROJECT_REPORT_RATE_LIMIT = env.str("PROJECT_REPORT_RATE_LIMIT", default="5/h")

# The audit log's tamper evidence (auditlog.chain): the key signing the chain's seals. Keep it
# out of the database and its backups (derived from SECRET_KEY unless given); changing it makes
# the existing seals fail verification.
AUDIT_SEAL_KEY = env.str("AUDIT_SEAL_KEY", default="")
# Days of audit history kept; 0 keeps everything. Pruning is itself an audit event.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=0)
# Who is emailed when the audit log fails verification or a project is reported: "Name <address>"
# entries; the first is the address quarantine emails give owners for appeals.
ADMINS = getaddresses(env.list("ADMINS", default=[]))

# Email: written as files under DATA_DIR/emails unless EMAIL_URL names an SMTP server
# (smtp://user:password@host:port, or smtp+tls://...).
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{SITE_NAME} <noreply@{SITE_HOST}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url_config(EMAIL_URL))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(DATA_DIR / "emails"))

# Seconds an SMTP connection waits for the server (to connect, and for each reply) before the
# delivery fails and is retried later: a stalled server cannot hold a worker.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# Days a sent email's outbox row (subject and recipient; the body is dropped once sent) is kept.
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=30)

# Celery. The embedded broker is kombu's filesystem transport: no server to install.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_broker_dir = DATA_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL == "filesystem://"
    else {}
)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
# The worker keeps the site's JSON logging (LOGGING) instead of installing its own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Seconds any task may run. Past the soft limit the task is interrupted (SoftTimeLimitExceeded,
# so it can record the failure); past the hard limit its worker process is killed and replaced.
# Tasks that need longer, or must stay shorter (email delivery, inside its claim), set their own.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Exactly one beat per site: the scheduler holds a claim in the shared cache (index_site.beat).
CELERY_BEAT_SCHEDULER = "index_site.beat:SingleBeatScheduler"
CELERY_BEAT_SCHEDULE = {
    "send-pending-emails": {
        "task": "index_site.tasks.send_pending_emails",
        "schedule": 60.0,
    },
    "delete-old-emails": {
        "task": "index_site.tasks.delete_old_emails",
        "schedule": crontab(hour=4, minute=23),
    },
    "record-expired-api-tokens": {
        "task": "tokens.tasks.record_expired_api_tokens",
        "schedule": crontab(minute="*/15"),
    },
    "compute-critical-projects": {
        "task": "projects.tasks.compute_critical_projects",
        "schedule": crontab(hour=3, minute=7),
    },
    "expire-role-invitations": {
        "task": "projects.tasks.expire_role_invitations",
        "schedule": crontab(minute="*/5"),
    },
    "expire-pending-publishers": {
        "task": "publishing.tasks.expire_pending_publishers",
        "schedule": crontab(minute=17),
    },
    "delete-used-jwt-ids": {
        "task": "publishing.tasks.delete_expired_jwt_ids",
        "schedule": crontab(minute="*/10"),
    },
    # Link and sign new audit events, verify the last day's seals, apply the retention.
    "seal-audit-log": {
        "task": "auditlog.tasks.seal_audit_log",
        "schedule": 60.0,
    },
    "prune-audit-log": {
        "task": "auditlog.tasks.prune_audit_log",
        "schedule": crontab(hour=4, minute=41),
    },
    # Stored distribution files left without a row by a crash between storing and committing.
    "sweep-orphaned-uploads": {
        "task": "publishing.tasks.sweep_orphaned_uploads",
        "schedule": crontab(minute=41),
    },
}

# Trusted publishing (OIDC). OIDC_AUDIENCE empty: trusted publishing is not configured (the
# audience endpoint answers 404). TRUSTED_PUBLISHING_ENABLED false: switched off (403); admins
# can also switch it off at run time with the "disallow-oidc" admin flag.
OIDC_AUDIENCE = env.str("OIDC_AUDIENCE", default="")
TRUSTED_PUBLISHING_ENABLED = env.bool("TRUSTED_PUBLISHING_ENABLED", default=True)
# Issuers of the built-in providers; tests point them at a local test issuer.
OIDC_GITHUB_ISSUER = env.str(
    "OIDC_GITHUB_ISSUER", default="https://token.actions.githubusercontent.com"
)
OIDC_GITLAB_ISSUER = env.str("OIDC_GITLAB_ISSUER", default="https://gitlab.com")
OIDC_GOOGLE_ISSUER = env.str("OIDC_GOOGLE_ISSUER", default="https://accounts.google.com")
# Seconds: JWKS fetch timeout, minimum interval between refreshes of one issuer's keys, and the
# clock leeway for exp/nbf/iat.
OIDC_JWKS_TIMEOUT = env.float("OIDC_JWKS_TIMEOUT", default=5.0)
OIDC_JWKS_REFRESH_INTERVAL = env.int("OIDC_JWKS_REFRESH_INTERVAL", default=60)
OIDC_LEEWAY = env.int("OIDC_LEEWAY", default=30)
# Seconds cached issuer keys are trusted before they are fetched again, so a key the issuer
# removed stops verifying; the old keys are served past this only while the issuer is down.
OIDC_JWKS_MAX_AGE = env.int("OIDC_JWKS_MAX_AGE", default=3600)
# GitHub's REST API, asked for an owner's numeric id when a publisher is registered.
OIDC_GITHUB_API_URL = env.str("OIDC_GITHUB_API_URL", default="https://api.github.com")
# GitHub events whose workflows may not mint tokens (privileged triggers running fork code).
OIDC_GITHUB_DENIED_EVENTS = env.list("OIDC_GITHUB_DENIED_EVENTS", default=["pull_request_target"])
# django-ratelimit rate for mint-token and burn-token, per client IP.
OIDC_MINT_RATE_LIMIT = env.str("OIDC_MINT_RATE_LIMIT", default="100/m")
# Lifetime of a minted upload token, pending publishers per user, and their lifetime in days.
OIDC_TOKEN_LIFETIME = timedelta(seconds=env.int("OIDC_TOKEN_LIFETIME", default=900))
PENDING_PUBLISHERS_PER_USER = env.int("PENDING_PUBLISHERS_PER_USER", default=3)
PENDING_PUBLISHER_LIFETIME = timedelta(days=env.int("PENDING_PUBLISHER_LIFETIME_DAYS", default=30))
# Publisher registrations (pending or on a project) per user and per IP.
PUBLISHER_REGISTRATION_RATE_LIMIT = env.str("PUBLISHER_REGISTRATION_RATE_LIMIT", default="100/d")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# The OpenAPI 3 schema served at /_/api/schema/ (drf-spectacular), from the JSON views.
SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} JSON API",
    "DESCRIPTION": (
        "The JSON endpoints of the index: the JSON API, trusted publishing, tokens, health."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["index_site.api.without_slash_aliases"],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "apiToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token: `Authorization: token <token>` or `Bearer "
                "<token>`, or Basic with the username `__token__`.",
            }
        }
    },
}

RATELIMIT_VIEW = "index_site.views.ratelimited"
RATELIMIT_IP_META_KEY = "index_site.client_ip.client_ip_for_ratelimit"

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = logging_config(env.str("LOG_LEVEL", default="INFO").upper())
configure_structlog()
# Python's warnings are log lines too (JSON), not raw text on stderr.
logging.captureWarnings(True)
