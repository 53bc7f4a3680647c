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
