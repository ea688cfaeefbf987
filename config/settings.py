"""Settings, read from the environment only.

With DEBUG=1 and nothing else set, an embedded PostgreSQL and Redis run from
pip packages with their data under var/ (config/embedded.py). Production sets
DATABASE_URL, REDIS_URL, SECRET_KEY and ALLOWED_HOSTS, and leaves DEBUG off.
"""

import datetime
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config import embedded
from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
# pytest sets PYTEST_VERSION for the whole run.
TESTING = "PYTEST_VERSION" in os.environ

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable "
            "(a long random string), or DEBUG=1 for a development machine."
        )
    SECRET_KEY = "development-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "enrollment",
    "coordinators",
    "billing",
    "graduates",
    # Above the others: what reads across apps (dashboard, reports, retention, roles, demo data).
    "bureau",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "enrollment.middleware.NoStoreMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "enrollment.middleware.SessionIdleRefreshMiddleware",
    "enrollment.middleware.InterfaceLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "coordinators.context_processors.portal_school",
            ],
        },
    },
]

# Where the embedded servers keep their data when DATABASE_URL / REDIS_URL are unset.
EMBEDDED_DIR = Path(env_str("EMBEDDED_DIR", str(BASE_DIR / "var")))


def _service_url(name: str, start) -> str:
    url = env_str(name)
    if url:
        return url
    if not DEBUG:
        # A production server must not quietly come up on an empty database of its own.
        raise ImproperlyConfigured(
            f"{name} is not set. Set it, or DEBUG=1 for a development machine "
            f"(which starts an embedded server with its data in {EMBEDDED_DIR})."
        )
    return start(EMBEDDED_DIR)


DATABASE_URL = _service_url("DATABASE_URL", embedded.postgres_url)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FIXTURE_DIRS = [BASE_DIR / "fixtures"]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "enrollment.auth.MembershipBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing with production strength costs ~0.5 s per password; tests set many.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"

# Log-in lockout (django-axes, enrollment.lockout): failures are counted per
# (account, address) pair, per account from any address, and per address over
# different accounts, each with its own limit, so one coordinator's typing
# mistakes lock neither the colleagues behind the same office address nor the
# account for everyone, while guessing and credential stuffing are still stopped.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_LIMITS = {
    "username": env_int("LOGIN_ACCOUNT_FAILURE_LIMIT", 10),
    "ip_address": env_int("LOGIN_ADDRESS_ACCOUNT_LIMIT", 20),
}
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 30) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username", "ip_address"]
AXES_HANDLER = "enrollment.lockout.ScopedLimitsHandler"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env_bool("LOGIN_LOCKOUT_ENABLED", True)
AXES_LOCKOUT_CALLABLE = "enrollment.middleware.lockout_response"
# The address counted is REMOTE_ADDR, or behind the TLS proxy the right-most
# X-Forwarded-For entry (the one the proxy added): without that every user
# would share the proxy's address and one guesser would lock everyone out,
# and with the left-most a client could pose as many addresses.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
AXES_CLIENT_IP_CALLABLE = "enrollment.middleware.client_ip_address"

# Idle expiry: a session ends SESSION_COOKIE_AGE seconds after its last
# request; SessionIdleRefreshMiddleware moves the expiry forward, writing the
# session at most once per SESSION_REFRESH_SECONDS instead of on every request.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_REFRESH_SECONDS = env_int("SESSION_REFRESH_SECONDS", 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
FORMAT_MODULE_PATH = ["config.formats"]
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
# Hashed, compressed static files need `collectstatic` first: production and
# the load benchmark run it; development and the test run serve the files
# straight from the apps' and project's static directories instead.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not (DEBUG or TESTING))
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = not STATIC_MANIFEST
STORAGES = {
    # Uploaded files (imports, letters, photos, batch files) hold personal data:
    # kept outside the web root and only served through access-checked views.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env_str("PRIVATE_MEDIA_ROOT", str(BASE_DIR / "var" / "private"))},
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_URL = None
if TESTING:
    # pytest-django's live server (browser tests) wraps the site in a media
    # handler that needs a URL prefix. Give it one that serves an empty
    # directory; the site itself still has no media URL.
    MEDIA_URL = "/__no-media__/"
    MEDIA_ROOT = str(BASE_DIR / "var" / "no-media")
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 100_000)
GRADUATE_FEED_INBOX = Path(env_str("GRADUATE_FEED_INBOX", str(BASE_DIR / "var" / "inbox" / "graduates")))

REDIS_URL = _service_url("REDIS_URL", embedded.redis_url)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
# How long a roster page's lists stay in the cache. Their key changes with every
# write to the school's students, enrollments and graduate records, so this only
# bounds how long renamed reference data (exemption categories) may show. 0: off.
ROSTER_PAGE_CACHE_SECONDS = env_int("ROSTER_PAGE_CACHE_SECONDS", 600)
# How long a page of a coordinator's student list, as the API answers it, stays
# in the cache. Its key changes with every write to the school's students. 0: off.
STUDENT_LIST_CACHE_SECONDS = env_int("STUDENT_LIST_CACHE_SECONDS", 600)

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
# Tasks go to a worker, in development too; the test run alone sets this to run them in-process.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Acknowledged on receipt by default. Each task whose second run is proven
# harmless (it claims its work, or its writes are guarded by constraints) says
# acks_late=True itself, so a worker that dies mid-way has its task delivered again.
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A message taken by a worker that then died whole (no process left to reject it)
# goes back to the queue after this many seconds. Short on purpose: a job task
# delivered twice is harmless (the Job row is claimed once, and a running job's
# advisory lock tells a live worker from a dead one), while a long timeout left a
# killed run waiting an hour. The job sweeper (enrollment.sweep_jobs, every two
# minutes) re-sends anything the broker lost altogether.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "enrollment.auth.MembershipTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "enrollment.api.strict.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "enrollment.api.strict.StrictQueryParametersBackend",
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "enrollment.api.strict.StrictPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "enrollment.api.base.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "enrollment.api.throttling.UserThrottle",
        "enrollment.api.throttling.AnonThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_THROTTLE_USER", "6000/min"),
        "anon": env_str("API_THROTTLE_ANON", "60/min"),
    },
}
# API tokens: knox stores a SHA-512 hash only; the token is shown once, when it is
# created (admin or `manage.py issue_api_token`), and each expires and can be revoked.
REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(days=env_int("API_TOKEN_DAYS", 365)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Student medical insurance enrollment API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PaymentMethodEnum": "billing.models.Declaration.PaymentMethod",
        "FeedSourceEnum": "graduates.models.FeedSource",
    },
}

# Content-Security-Policy: no inline scripts anywhere, every asset is local.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# The load balancer's and the container's health probes speak plain HTTP inside.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "noreply@localhost")
# No error e-mails: Django's report of a failed request carries the request's
# data (names, identity numbers) in clear. Errors go to the masked JSON log.
ADMINS: list = []
MANAGERS: list = []

# Personal-data retention (PIPL): students who graduated or left, whose last
# insurance year's coverage ended more than this many years ago, have their name
# and identity number pseudonymised by the yearly retention job.
RETENTION_YEARS = env_int("RETENTION_YEARS", 3)

# Billing: how many times a failed debit instruction goes back into a batch
# before it is flagged for bureau staff and the coordinator.
DEBIT_MAX_TRIES = env_int("DEBIT_MAX_TRIES", 3)
# Schools below this coverage rate (percent) are reminded as the window closes.
LAGGING_COVERAGE_PERCENT = env_int("LAGGING_COVERAGE_PERCENT", 95)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {"redact": {"()": "enrollment.logging.RedactPersonalDataFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if env_bool("LOG_JSON", not DEBUG) else "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Replaces Django's default handlers (including mail_admins): every
        # record goes through the masking filter of the console handler.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
