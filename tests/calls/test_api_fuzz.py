"""The phone-platform API fuzzed from its own OpenAPI schema: whatever a platform sends, the answer
is never a server error, and every answer matches the schema."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from calls import services
from tests.factories import InmateFactory, RatePlanFactory

schema = schemathesis.openapi.from_wsgi("/api/v1/schema", get_wsgi_application())
# Valid requests and invalid ones (wrong types, missing fields, out-of-range values).
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@pytest.fixture
def platform_headers(transactional_db):
    plan = RatePlanFactory(rate_per_minute="0.21", tax_rate="0.0635", effective_from_date="2020-01-01")
    InmateFactory(facility=plan.facility)
    _, raw = services.platform_token_create(name="Fuzz platform", actor=None)
    return {"Authorization": f"Bearer {raw}"}


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_platform_api_never_fails_on_any_input(case, platform_headers):
    response = case.call(headers=platform_headers)
    assert response.status_code < 500, response.text
    case.validate_response(
        response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
    )
