import factory

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"holder{n}@example.com")
    first_name = "Jane"
    last_name = factory.Sequence(lambda n: f"Doe{n}")
    address_line1 = "1 Main Street"
    city = "Hartford"
    state = "CT"
    postal_code = "06103"
    password = factory.django.Password("correct horse battery")


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "calls.Facility"

    code = factory.Sequence(lambda n: f"TST-{n}")
    name = factory.Sequence(lambda n: f"Test County Jail {n}")
    town = "Springfield"
    state = "IL"
    facility_type = "jail"
    size_tier = "medium"
    time_zone = "America/Chicago"
    cell_phones_allowed = True
    max_call_minutes = 15


class RatePlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "calls.RatePlan"

    facility = factory.SubFactory(FacilityFactory)
    name = "Standard"
    # Strings, so this appended block needs no imports; the database stores a Decimal and a date.
    rate_per_minute = "0.21"
    tax_rate = "0.0635"
    effective_from_date = "2020-01-01"


class InmateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "calls.Inmate"

    facility = factory.SubFactory(FacilityFactory)
    inmate_number = factory.Sequence(lambda n: f"{100000 + n}")
    first_name = "John"
    last_name = factory.Sequence(lambda n: f"Roe{n}")
