"""The test suite: real PostgreSQL, real Redis, localstripe started by the suite itself."""

import os

from .base import *  # noqa: F403
from .base import database_settings, env

SECRET_KEY = "test-only-not-secret"
DEBUG = False
DATABASES = {"default": database_settings("postgres://postgres@127.0.0.1:5432/familyline")}
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/15")
# Each test database has its own rows and ids, so each pytest-xdist worker (and each database name)
# gets its own cache keys.
CACHES = {
    "default": {
        "BACKEND": "config.cache.FallbackRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{DATABASES['default']['NAME']}:{os.environ.get('PYTEST_XDIST_WORKER', '')}",
    }
}
CELERY_BROKER_URL = REDIS_URL
# Tests run tasks in-process unless a test asks for the real broker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
STRIPE_SECRET_KEY = "sk_test_suite"
STRIPE_PUBLISHABLE_KEY = "pk_test_suite"
STRIPE_WEBHOOK_SECRET = "whsec_test_suite"
# The suite's localstripe fixture sets the real port; these are placeholders.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="http://localhost:8420")
STRIPE_JS_URL = env("STRIPE_JS_URL", default="http://localhost:8420/js.stripe.com/v3/")
# Static files straight from the app folders (no collectstatic in the suite).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# The suite's API tests send bursts from one token and check revocation at once; the security tests
# turn the rate limit and the token cache back on where they test them.
PLATFORM_TOKEN_RATE_PER_SECOND = 0
PLATFORM_TOKEN_CACHE_SECONDS = 0
# Tests rewrite facilities and flush tables between them: read them afresh (the query-count test
# turns the cache back on).
FACILITY_CACHE_SECONDS = 0
DEMO_DATA_ALLOWED = True
# Twilio webhooks in the suite are signed with this token, as Twilio signs them with the real one.
TWILIO_AUTH_TOKEN = "twilio-test-token"
TWILIO_ACCOUNT_SID = "ACtest"
TWILIO_PHONE_NUMBER = "+18605550100"
PUBLIC_BASE_URL = ""
SMS_BACKEND = "locmem"
