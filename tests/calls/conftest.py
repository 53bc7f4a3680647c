import importlib

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from calls import services


@pytest.fixture
def connecticut(db):
    """The Connecticut DOC facilities of the data migration (recreated: transactional tests flush)."""
    migration = importlib.import_module("calls.migrations.0002_connecticut_facilities")
    migration.forward(apps, None)
    return apps.get_model("calls", "Facility").objects.get(code="CT-HFD")


@pytest.fixture
def platform_token(db):
    token, raw = services.platform_token_create(name="Test platform", actor=None)
    return raw


@pytest.fixture
def api(platform_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {platform_token}")
    return client
