"""With Redis unreachable (the cache on a closed port), the family's login, sign-up and password
reset keep answering: allauth's rate limits fall back to local memory (config.cache)."""

import socket

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # released on close: nothing listens there


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.FallbackRedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }
    yield
    cache.close()


def test_login_signup_and_reset_answer_with_the_cache_on_a_closed_port(client, redis_down, caplog):
    holder = UserFactory()
    pages = [reverse("account_login"), reverse("account_signup"), reverse("account_reset_password")]
    for page in pages:
        assert client.get(page).status_code == 200, page

    wrong = client.post(reverse("account_login"), {"login": holder.email, "password": "not the password"})
    assert wrong.status_code == 200
    right = client.post(reverse("account_login"), {"login": holder.email, "password": "correct horse battery"})
    assert right.status_code == 302
    client.logout()

    signup = client.post(
        reverse("account_signup"),
        {
            "email": "new.holder@example.com",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
            "first_name": "Ana",
            "last_name": "Ruiz",
            "preferred_language": "en",
        },
    )
    assert signup.status_code == 302
    reset = client.post(reverse("account_reset_password"), {"email": holder.email})
    assert reset.status_code == 302
    assert "Redis unavailable" in caplog.text


def test_rate_limits_still_count_in_local_memory_while_redis_is_down(client, redis_down):
    holder = UserFactory()
    for attempt in range(5):
        client.post(reverse("account_login"), {"login": holder.email, "password": f"wrong {attempt}"})
    response = client.post(reverse("account_login"), {"login": holder.email, "password": "correct horse battery"})
    assert response.status_code == 200  # allauth's per-email limit still holds
    assert "_auth_user_id" not in client.session


def test_the_plain_cache_calls_survive_an_outage(redis_down):
    assert cache.set("k", 1) is None
    assert cache.get("k") == 1  # from local memory
    assert cache.add("k2", 1) is True and cache.incr("k2") == 2
    cache.delete_many(["k", "k2"])
    assert cache.get_many(["k", "k2"]) == {}
