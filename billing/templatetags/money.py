from django import template

from billing.ledger.money import format_cents

register = template.Library()


@register.filter
def cents(value) -> str:
    """{{ amount_cents|cents }} -> "$12.34"."""
    if value is None or value == "":
        return ""
    return format_cents(int(value))
