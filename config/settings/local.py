"""`make run`: an embedded PostgreSQL server (DATABASE_URL, set by scripts/services.py), a filesystem Celery
broker and localstripe."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-development-only-not-secret")
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")

VAR_DIR = BASE_DIR / "var"
# `make run PORT=…` serves on WEB_PORT: links in emails point there unless SITE_URL says otherwise.
SITE_URL = env("SITE_URL", default=f"http://127.0.0.1:{env.int('WEB_PORT', default=8000)}")

BROKER_DIR = VAR_DIR / "broker"

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "data_folder_in": str(BROKER_DIR / "out"),
    "data_folder_out": str(BROKER_DIR / "out"),
    "processed_folder": str(BROKER_DIR / "processed"),
    "store_processed": False,
}

STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="sk_test_local")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="pk_test_local")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="whsec_local")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="http://localhost:8420")
STRIPE_JS_URL = env("STRIPE_JS_URL", default="http://localhost:8420/js.stripe.com/v3/")
DEMO_DATA_ALLOWED = True
# The phone page under `make run` signs its requests to the voice webhooks with this token.
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="local-twilio-token")
TWILIO_PHONE_NUMBER = env("TWILIO_PHONE_NUMBER", default="+18005550199")
