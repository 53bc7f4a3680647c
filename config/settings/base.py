"""Settings shared by every environment. Values come from the environment (django-environ)."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "phonenumber_field",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "axes",
    "csp",
    "accounts",
    "billing",
    "billing.ledger.apps.LedgerConfig",
    "calls",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.PreferredLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.IdleSessionTimeoutMiddleware",
    "accounts.middleware.StripeCSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during authentication into its response.
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
            ],
        },
    },
]


def database_settings(default: str | None = None) -> dict:
    """DATABASE_URL (or `default`) as Django's database settings. On PostgreSQL, parameters are bound
    on the server (psycopg's server-side binding: no SQL text is built in Python for each statement),
    and psycopg prepares a statement the fifth time a connection runs it (Django turns that off by
    default), so the call path's few statements are parsed and planned once per connection, not on
    every call: planning its one-read join cost the server more than running it."""
    database = env.db("DATABASE_URL", default=default) if default else env.db("DATABASE_URL")
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("FamilyLine runs on PostgreSQL (15 or later) only: DATABASE_URL must be postgres://")
    database["ATOMIC_REQUESTS"] = False
    # A server on a Unix socket (the embedded one): `postgres://user@/name?host=/socket/dir`.
    if not database.get("HOST") and "host" in database.get("OPTIONS", {}):
        database["HOST"] = database["OPTIONS"].pop("host")
    database["OPTIONS"] = {**database.get("OPTIONS", {}), "server_side_binding": True, "prepare_threshold": 5}
    return database


DATABASES = {"default": database_settings("postgres://postgres@127.0.0.1:5432/familyline")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First, as django-axes asks: it refuses a locked-out staff login before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# ASVS 4.0.3 V2.1.1: at least 12 characters. allauth uses these validators too (its own
# ACCOUNT_PASSWORD_MIN_LENGTH only applies when AUTH_PASSWORD_VALIDATORS is empty).
PASSWORD_MIN_LENGTH = 12
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "accounts:dashboard"
LOGIN_URL = "account_login"

# django-allauth: the email address is the login.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupForm"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# allauth's emails say who sends them ("FamilyLine: Confirm your email"), not "[127.0.0.1:8000] ...".
ACCOUNT_EMAIL_SUBJECT_PREFIX = "FamilyLine: "
# Every allauth form a family submits refuses control characters like the project's own forms.
ACCOUNT_FORMS = {
    "login": "accounts.auth_forms.LoginForm",
    "signup": "accounts.auth_forms.SignupForm",
    "reset_password": "accounts.auth_forms.ResetPasswordForm",
    "reset_password_from_key": "accounts.auth_forms.ResetPasswordKeyForm",
    "change_password": "accounts.auth_forms.ChangePasswordForm",
    "add_email": "accounts.auth_forms.AddEmailForm",
}

# The client's IP address behind our reverse proxies: the address the last TRUSTED_PROXY_COUNT
# proxies saw (counted from the right of X-Forwarded-For); 0 = no proxy, REMOTE_ADDR. One number
# for allauth's rate limits and django-axes' lockouts (accounts.security.client_ip).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# django-axes guards the staff login (/admin/login/) only: families log in through allauth,
# whose own rate limits (per IP and per email) apply there. See docs/security.md.
AXES_ONLY_ADMIN_SITE = True
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
# Locked per account and, separately, per client address (a spray over many accounts from one IP).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = timedelta(hours=env.int("AXES_COOLOFF_HOURS", default=1))
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.security.client_ip"
AXES_USERNAME_CALLABLE = "accounts.security.axes_username"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
# Only staff sign-ins count toward (and reset) the staff lockout; a family sign-in leaves an audit
# row and nothing else, so the two lockouts never touch each other.
AXES_HANDLER = "accounts.login_guard.StaffLoginHandler"

# Idle sessions end: staff after 30 minutes, families after a longer quiet spell. Each request
# stamps the session's last activity (accounts.middleware.IdleSessionTimeoutMiddleware).
SESSION_IDLE_TIMEOUT_STAFF = timedelta(minutes=env.int("SESSION_IDLE_MINUTES_STAFF", default=30))
SESSION_IDLE_TIMEOUT_FAMILY = timedelta(minutes=env.int("SESSION_IDLE_MINUTES_FAMILY", default=120))
SESSION_COOKIE_AGE = 60 * 60 * 24  # an absolute cap, whatever the activity
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy (django-csp 4): our origin only; the Stripe origins are added per
# request from STRIPE_JS_URL / STRIPE_API_BASE (accounts.middleware.StripeCSPMiddleware).
CONTENT_SECURITY_POLICY: dict[str, dict[str, Any]] = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# `seed_demo` (a superuser with a known password) runs only where this is on: local and test settings.
DEMO_DATA_ALLOWED = False
# A holder may keep this many accounts open at once (AdvanceConnect and Direct Bill together).
MAX_OPEN_ACCOUNTS_PER_HOLDER = env.int("MAX_OPEN_ACCOUNTS_PER_HOLDER", default=5)
# Longest free text staff or families may type (reasons, memos).
REASON_MAX_LENGTH = 1000
# Where families mail a check or money order (statements, page and PDF), one line per ";".
PAYMENT_MAILING_ADDRESS = [
    line.strip()
    for line in env("PAYMENT_MAILING_ADDRESS", default="FamilyLine Payments;PO Box 2300;Hartford, CT 06146").split(";")
    if line.strip()
]

LANGUAGE_CODE = "en-us"
# The language cookie is sent on top-level navigation only (and over HTTPS only in production).
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGES = [("en", "English"), ("es", "Español")]
TIME_ZONE = "America/New_York"
USE_I18N = True
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="FamilyLine <help@familyline.example>")

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# Redis caches use config.cache.FallbackRedisCache: while Redis is down it answers from local
# memory with a log line instead of raising, so allauth's rate limits keep working.

# Celery
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic work. The database scheduler reads this on start-up; staff can tune it in the admin.
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_BEAT_SCHEDULE["accounts-activate-due"] = {"task": "accounts.tasks.accounts_activate_due", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["accounts-outbox-drain"] = {"task": "accounts.outbox.outbox_drain", "schedule": 30.0}
CELERY_BEAT_SCHEDULE["accounts-texts-send-due"] = {"task": "accounts.texts.sending.texts_send_due", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["accounts-phone-sessions-forget"] = {
    "task": "accounts.tasks.phone_sessions_forget",
    "schedule": crontab(minute=15, hour=4),
}
CELERY_BEAT_SCHEDULE["billing-stripe-events-pending"] = {
    "task": "billing.tasks.stripe_events_process_pending",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["billing-refunds-card-retry"] = {
    "task": "billing.tasks.refunds_card_retry_pending",
    "schedule": 600.0,
}
# Direct Bill: statements for the month before on the 1st, dunning daily (CELERY_TIMEZONE is New York).
CELERY_BEAT_SCHEDULE["billing-statements-monthly"] = {
    "task": "billing.statement_tasks.statements_monthly_run",
    "schedule": crontab(minute=0, hour=2, day_of_month=1),
}
CELERY_BEAT_SCHEDULE["billing-dunning-daily"] = {
    "task": "billing.statement_tasks.dunning_daily_run",
    "schedule": crontab(minute=0, hour=6),
}
CELERY_BEAT_SCHEDULE["billing-credit-limits-raise-daily"] = {
    "task": "billing.tasks.credit_limits_raise_daily_run",
    "schedule": crontab(minute=30, hour=6),
}
CELERY_BEAT_SCHEDULE["billing-reconciliation-daily"] = {
    "task": "billing.tasks.reconciliation_daily_run",
    "schedule": crontab(minute=0, hour=5),
}
# Auto-reload terms a fee change made impossible (also run at once after a change of the web fee).
CELERY_BEAT_SCHEDULE["billing-auto-reload-terms-daily"] = {
    "task": "billing.tasks.auto_reload_terms_daily_run",
    "schedule": crontab(minute=15, hour=6),
}
CELERY_BEAT_SCHEDULE["billing-single-calls-expire"] = {
    "task": "billing.tasks.single_calls_expire",
    "schedule": 120.0,
}
CELERY_BEAT_SCHEDULE["calls-expire-holds"] = {"task": "calls.tasks.expire_call_holds", "schedule": 300.0}
CELERY_BEAT_SCHEDULE["calls-decisions-purge-daily"] = {
    "task": "calls.tasks.call_decisions_purge",
    "schedule": crontab(minute=15, hour=4),
}
# Inactive prepaid balances: notice, then refund (never forfeit), daily.
CELERY_BEAT_SCHEDULE["billing-inactive-balances-daily"] = {
    "task": "billing.tasks.inactive_balances_daily_run",
    "schedule": crontab(minute=0, hour=7),
}

# REST framework (phone-platform API) and its OpenAPI schema
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["calls.api.parsers.BoundedJSONParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FamilyLine phone-platform API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # One enum for the deny reasons, whether authorize's `reason` or complete's `refused_reason`.
    "ENUM_NAME_OVERRIDES": {"ReasonEnum": "calls.callpath.errors.DenyReason.ALL"},
}

# Platform tokens: at most this many API requests per second per token (0 = no limit, as in the
# HTTP benchmark), counted in-process and in Redis when it answers (fails open when it does not).
PLATFORM_TOKEN_RATE_PER_SECOND = env.int("PLATFORM_TOKEN_RATE_PER_SECOND", default=200)
# Wrong bearer tokens from one client address: past this many in a window, the address is answered
# 429 until the window ends (0 = no limit). Counted in the cache, only when a token is wrong.
PLATFORM_TOKEN_FAILURES_PER_WINDOW = env.int("PLATFORM_TOKEN_FAILURES_PER_WINDOW", default=20)
PLATFORM_TOKEN_FAILURE_WINDOW_SECONDS = 60
# An alert row for staff when a token reports more completes without a prior authorize in an hour.
PLATFORM_TOKEN_UNAUTHORIZED_COMPLETES_PER_HOUR = env.int("PLATFORM_TOKEN_UNAUTHORIZED_COMPLETES_PER_HOUR", default=50)
# How long a token lookup may be reused in-process: a revocation takes effect within this time.
PLATFORM_TOKEN_CACHE_SECONDS = 5
# How long a facility and its rate plans may be reused in-process by the call path (no database or
# Redis round trip while fresh): a staff edit takes effect at once in the process that made it and
# within this time in every other.
FACILITY_CACHE_SECONDS = 5
# Largest JSON body the API and the Stripe webhook accept, and the deepest nesting.
JSON_MAX_BYTES = 64 * 1024
JSON_MAX_DEPTH = 20
# A stored Stripe event that failed this many times is parked for staff instead of retried.
STRIPE_EVENT_MAX_ATTEMPTS = 5
# Webhook signature timestamps may be this far in the past or the future.
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
STRIPE_WEBHOOK_MAX_BYTES = 512 * 1024

# The phone and text channel (Twilio). Webhook signatures are checked with TWILIO_AUTH_TOKEN against
# PUBLIC_BASE_URL (the address Twilio calls, in front of the proxy); without a token every webhook is
# refused. TWILIO_API_BASE points the REST client elsewhere (a local server in the tests).
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_PHONE_NUMBER = env("TWILIO_PHONE_NUMBER", default="")
TWILIO_API_BASE = env("TWILIO_API_BASE", default="")
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="")
# Outgoing texts and voice calls: "twilio" (the real client), "console", "file" (SMS_FILE_PATH) or
# "locmem" (tests), chosen like Django's email backends.
SMS_BACKEND = env("SMS_BACKEND", default="twilio" if TWILIO_ACCOUNT_SID else "console")
SMS_FILE_PATH = env("SMS_FILE_PATH", default=str(BASE_DIR / "var" / "sms"))
# Seconds to wait for Twilio's answer; after that a text's fate is unclear and it is left for staff.
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=10.0)
# The phone menu's live agent: a number to dial in office hours (facility time zone of TIME_ZONE).
PHONE_AGENT_NUMBER = env("PHONE_AGENT_NUMBER", default="")
PHONE_AGENT_HOURS = env("PHONE_AGENT_HOURS", default="08:00-20:00")
# The unique name of the Stripe Pay Connector installed in the Twilio console (tokenize mode).
TWILIO_PAY_CONNECTOR = env("TWILIO_PAY_CONNECTOR", default="Default")

PHONENUMBER_DEFAULT_REGION = "US"
PHONENUMBER_DB_FORMAT = "E164"

# Stripe. The API base and the Stripe.js URL are settings so a local stand-in can serve both.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")

# Money rules (integer cents). See docs/domain.md.
MIN_DEPOSIT_CENTS = env.int("MIN_DEPOSIT_CENTS", default=500)
MAX_DEPOSIT_CENTS = 5000
# Fee caps per payment channel: billing.payments.models.FEE_CAPS_CENTS (their one home, used by the database too).
PAYMENT_FEES_WAIVED = env.bool("PAYMENT_FEES_WAIVED", default=False)
ACTIVATION_DELAY = timedelta(hours=env.int("ACTIVATION_DELAY_HOURS", default=24))
ALASKA_PREAPPROVED_LIMIT_CENTS = 5000
STATEMENT_DUE_DAYS = env.int("STATEMENT_DUE_DAYS", default=21)
# A call's hold lives CALL_HOLD_MARGIN longer than the longest call it may allow (the facility's cap,
# up to 240 minutes), and never less than CALL_HOLD_TTL; an expired hold no longer counts.
CALL_HOLD_TTL = timedelta(hours=2)
CALL_HOLD_MARGIN = timedelta(minutes=15)
# Every authorize answer is kept per call id this many years (a call reported after a deny is charged
# to no one), then purged daily.
CALL_DECISIONS_KEPT_YEARS = 2
# How long a single-call offer (its code) may be paid and then used by the same call id; a paid
# offer not used by then is refunded in full.
SINGLE_CALL_OFFER_TTL = timedelta(minutes=env.int("SINGLE_CALL_OFFER_MINUTES", default=15))
# The staff work queue lists calls that connected after a refusal reported in the last this many days.
REFUSED_CALLS_QUEUE_DAYS = 30
# Direct Bill credit limits: staff set at most the maximum; above the review threshold they confirm;
# every RAISE_DAYS with every statement paid on time the limit rises one step, up to the maximum.
DIRECT_BILL_MAX_CREDIT_LIMIT_CENTS = env.int("DIRECT_BILL_MAX_CREDIT_LIMIT_CENTS", default=50_000)
DIRECT_BILL_CREDIT_LIMIT_REVIEW_CENTS = env.int("DIRECT_BILL_CREDIT_LIMIT_REVIEW_CENTS", default=20_000)
DIRECT_BILL_CREDIT_LIMIT_STEP_CENTS = env.int("DIRECT_BILL_CREDIT_LIMIT_STEP_CENTS", default=2_000)
DIRECT_BILL_CREDIT_LIMIT_RAISE_DAYS = env.int("DIRECT_BILL_CREDIT_LIMIT_RAISE_DAYS", default=90)
# A sponsor whose sponsorship a call skipped (short of funds or at its cap) is told at most this often.
SPONSOR_SKIP_NOTICE_EVERY = timedelta(days=1)
# Unused prepaid balances (47 CFR 64.6130): a notice after this many days without a payment or a
# call, the refund after INACTIVITY_REFUND_DAYS and never sooner than INACTIVITY_NOTICE_MIN_DAYS
# after the notice went out.
INACTIVITY_NOTICE_DAYS = env.int("INACTIVITY_NOTICE_DAYS", default=150)
INACTIVITY_REFUND_DAYS = env.int("INACTIVITY_REFUND_DAYS", default=180)
INACTIVITY_NOTICE_MIN_DAYS = env.int("INACTIVITY_NOTICE_MIN_DAYS", default=30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
