"""The phone-platform API fuzzed from its own OpenAPI schema with every check schemathesis has: no
server error, every answer as documented, requests the schema allows accepted and requests it forbids
refused. A body the schema allows may still be refused for what no schema can express (no payer, an
unknown facility...): that answer is a 400 with one of the documented `reason` codes, and the run
expects it, nothing else."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.config import PositiveDataAcceptanceConfig

from calls.callpath import fields
from calls.models import Facility, RatePlan
from calls.tokens import platform_token_create
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory
from tests.helpers import make_account

# Examples per operation and mode: the whole run stays well under a minute on two cores.
MAX_EXAMPLES = 40

schema = schemathesis.openapi.from_wsgi("/api/v1/schema", get_wsgi_application())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
schema.config.checks.update(included_check_names=["all"])
# A 400 to a body the schema allows is expected only with a documented reason (checked below).
schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=["2xx", "400", "401", "403", "409", "429"]
)


def valid_data_is_refused_only_for_a_documented_reason(ctx, response, case):
    """The stricter half of positive_data_acceptance: its 400s must be refusals no schema can express."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    reason = response.json().get("reason")
    if reason not in fields.REFUSALS:
        raise AssertionError(f"A body the schema allows was refused without a documented reason: {response.text}")
    return None


@pytest.fixture
def platform_headers(transactional_db, settings):
    """The world of the schema's examples: facility CT-HFD, inmate 412345, a funded +18605550134. The
    run sends a wrong token with every case (to check it is refused): its throttle is tested elsewhere."""
    settings.PLATFORM_TOKEN_FAILURES_PER_WINDOW = 0
    facility = Facility.objects.filter(code="CT-HFD").first() or FacilityFactory(code="CT-HFD")
    RatePlan.objects.filter(facility=facility).delete()
    RatePlanFactory(facility=facility, rate_per_minute="0.21", tax_rate="0.0635", effective_from_date="2020-01-01")
    InmateFactory(facility=facility, inmate_number="412345")
    make_account(balance_cents=100_000, number="+18605550134")
    _, raw = platform_token_create(name="Fuzz platform", actor=None)
    return {"Authorization": f"Bearer {raw}"}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_platform_api_answers_as_its_schema_says(case, platform_headers):
    case.call_and_validate(
        headers=platform_headers, additional_checks=[valid_data_is_refused_only_for_a_documented_reason]
    )
