"""Production: every secret comes from the environment, and a missing one stops start-up."""

from .base import *  # noqa: F403
from .base import CONTENT_SECURITY_POLICY as BASE_CSP
from .base import database_settings, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
DATABASES = {"default": database_settings()}
# One psycopg connection pool per process (Django's built-in pool, docs/scale.md). A gunicorn sync
# worker or a Celery solo worker uses one connection at a time; a threaded worker one per thread:
# size DB_POOL_MAX_SIZE to that, and keep processes x DB_POOL_MAX_SIZE below PostgreSQL's
# max_connections (100 here) with room for migrations, psql and the test suite. A request that cannot
# get a connection within DB_POOL_TIMEOUT seconds fails fast (the platform API answers 503 JSON)
# instead of queueing without bound; the pool replaces broken connections by itself. DB_POOL=off
# (for PgBouncer in transaction mode) falls back to persistent connections.
if env.bool("DB_POOL", default=True):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "pool": {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=2),
            "timeout": env.float("DB_POOL_TIMEOUT", default=2.0),
            "max_idle": 300,
        },
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind PgBouncer in transaction mode a connection's prepared statements are not its own.
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=env("REDIS_URL", default="redis://127.0.0.1:6379/0"))
CACHES = {"default": env.cache("CACHE_URL", default=env("REDIS_URL", default="redis://127.0.0.1:6379/1"))}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # Keeps login, sign-up and password reset answering while Redis is down (config/cache.py).
    CACHES["default"]["BACKEND"] = "config.cache.FallbackRedisCache"
# Behind the load balancer (one proxy by default): the client address it saw.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {**BASE_CSP["DIRECTIVES"], "upgrade-insecure-requests": True}}
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
