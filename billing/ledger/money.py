"""Money is integer cents everywhere. These helpers are the only places that parse, round and format."""

import re
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext

_AMOUNT_RE = re.compile(r"^\$?\s*(?P<whole>[0-9]{1,7})(?:\.(?P<frac>[0-9]{1,2}))?$")
_AMOUNT_WITH_COMMAS_RE = re.compile(r"^\$?\s*(?P<whole>[0-9]{1,3}(?:,[0-9]{3}){1,2})(?:\.(?P<frac>[0-9]{1,2}))?$")


class MoneyError(ValueError):
    """An amount a person typed that is not a valid amount of dollars and cents."""


def parse_amount(text: str) -> int:
    """Parse "12.34", "$12.34", "12" or "1,234.50" into cents. Refuses negative amounts, more than
    two decimal places, exponents and anything that is not a plain amount, with a message fit to show."""
    if text is None:
        raise MoneyError(gettext("Enter an amount."))
    raw = str(text).strip()
    if not raw:
        raise MoneyError(gettext("Enter an amount."))
    if raw.startswith("-") or raw.startswith("$-") or raw.startswith("($"):
        raise MoneyError(gettext("The amount cannot be negative."))
    match = _AMOUNT_RE.match(raw) or _AMOUNT_WITH_COMMAS_RE.match(raw)
    if not match:
        if re.match(r"^\$?\s*[0-9]+\.[0-9]{3,}$", raw):
            raise MoneyError(gettext("Amounts have at most two decimal places (cents)."))
        raise MoneyError(gettext("Enter an amount in dollars and cents, like 25.00."))
    whole = int(match["whole"].replace(",", ""))
    frac = (match["frac"] or "").ljust(2, "0")
    return whole * 100 + int(frac or 0)


def round_half_up(amount: Decimal) -> int:
    """Round a Decimal amount of cents to whole cents, half-up. The one place money is rounded."""
    if not isinstance(amount, Decimal):
        raise TypeError("round_half_up takes a Decimal number of cents")
    return int(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def to_decimal(cents: int) -> Decimal:
    """Cents as a Decimal of dollars, for APIs: 1234 -> Decimal("12.34")."""
    return (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))


def format_cents(cents: int, *, currency: bool = True) -> str:
    """1234 -> "$12.34"; -120 -> "-$1.20"; 123456 -> "$1,234.56"."""
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    body = f"{whole:,}.{frac:02d}"
    return f"{sign}${body}" if currency else f"{sign}{body}"
