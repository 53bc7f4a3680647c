"""Input hygiene in one place (accounts.security): a NUL byte or another control character in any
text field of a family or staff form is a field error, and nothing is saved."""

import pytest

from .forms_catalog import build_world, form_cases, login_as, state_snapshot

pytestmark = pytest.mark.django_db
MESSAGES = (b"Remove the control characters from this field.", b"Null characters are not allowed.")
POISONS = {"nul": "\x00", "escape": "\x1b[31m", "bidi-override": "\u202e"}


@pytest.fixture
def world():
    return build_world()


def _cases():
    # The catalog needs database rows for its URLs: collect the names here, build inside the test.
    return [
        "signup",
        "login",
        "password reset",
        "profile",
        "add a number",
        "edit a number",
        "close an account",
        "fund an account",
        "pay by card",
        "sponsor an inmate",
        "apply for Direct Bill",
        "pay a statement",
        "staff login",
        "staff: edit a user",
        "staff: add a user",
        "staff: suspend with a reason",
        "staff: record a mail payment",
        "staff: mail payment on a statement",
        "staff: adjustment",
        "staff: approve an application",
        "staff: decline an application",
        "staff: change a credit limit",
        "staff: block a number",
        "staff: issue a platform token",
        "staff: edit an inmate",
        "confirm texts with a code",
        "block my number",
    ]


def test_the_catalog_lists_every_case(world):
    assert [case.name for case in form_cases(world)] == _cases()


@pytest.mark.parametrize("poison", POISONS)
@pytest.mark.parametrize("name", _cases())
def test_a_control_character_in_every_text_field_is_a_field_error_and_saves_nothing(client, world, name, poison):
    case = next(c for c in form_cases(world) if c.name == name)
    login_as(client, case, world)
    for field in case.text_fields:
        data = dict(case.data)
        data[field] = f"{data.get(field) or 'x'}{POISONS[poison]}"
        before = state_snapshot()
        response = client.post(case.url, data)
        assert response.status_code < 500, (name, field)
        assert response.status_code in (200, 400), (name, field, response.status_code)
        if field not in case.hidden:
            assert any(message in response.content for message in MESSAGES), (name, field)
        assert state_snapshot() == before, (name, field)
