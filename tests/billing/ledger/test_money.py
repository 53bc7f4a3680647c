from decimal import Decimal

import pytest

from billing.ledger.money import MoneyError, format_cents, parse_amount, round_half_up, to_decimal


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("12.34", 1234),
        ("$12.34", 1234),
        ("12", 1200),
        ("12.3", 1230),
        (" 50.00 ", 5000),
        ("$ 5", 500),
        ("0.01", 1),
        ("1,234.50", 123450),
        ("0", 0),
    ],
)
def test_parse_amount_accepts_plain_amounts(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("12.345", "at most two decimal places"),
        ("-1", "cannot be negative"),
        ("$-1", "cannot be negative"),
        ("abc", "Enter an amount in dollars and cents"),
        ("1e3", "Enter an amount in dollars and cents"),
        ("", "Enter an amount."),
        ("   ", "Enter an amount."),
        ("12.", "Enter an amount in dollars and cents"),
        ("NaN", "Enter an amount in dollars and cents"),
        ("１２", "Enter an amount in dollars and cents"),
    ],
)
def test_parse_amount_refuses_with_a_clear_message(text, message):
    with pytest.raises(MoneyError, match=message):
        parse_amount(text)


@pytest.mark.parametrize(
    ("cents", "text"), [(1234, "$12.34"), (-120, "-$1.20"), (0, "$0.00"), (5, "$0.05"), (123456789, "$1,234,567.89")]
)
def test_format_cents(cents, text):
    assert format_cents(cents) == text


def test_round_half_up_is_exact_on_halves():
    assert round_half_up(Decimal("12.5")) == 13
    assert round_half_up(Decimal("12.4999")) == 12
    assert round_half_up(Decimal("6.35") * 21 / 100 * 100 / 100) == 1  # 1.3335 cents
    with pytest.raises(TypeError):
        round_half_up(12.5)


def test_to_decimal():
    assert to_decimal(1245) == Decimal("12.45")
    assert str(to_decimal(-5)) == "-0.05"
