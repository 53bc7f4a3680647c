"""Presentation helpers of the family pages: the monthly spending chart drawn as SVG on the server
(no JavaScript), and plain words for payments."""

from django import template
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from billing.ledger.money import format_cents
from billing.payments import selectors
from billing.statements import history

register = template.Library()

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 640, 220, 16, 36, 8
COLORS = (("calls_cents", "#1f5f8b"), ("taxes_cents", "#6b4500"), ("fees_cents", "#5b6675"))


@register.filter
def payment_words(payment) -> str:
    return history.payment_words(payment)


@register.filter
def statement_line_words(line) -> str:
    return history.statement_line_words(line)


@register.filter
def number_for(number, numbers) -> str:
    """A called number as this viewer may read it (`numbers`: the viewer's NumberView)."""
    return numbers.text(number)


@register.filter
def payment_state(payment) -> str:
    return history.payment_state_words(payment)


@register.filter
def channel_words(channel) -> str:
    return history.channel_words(channel)


@register.simple_tag
def auto_reload_now(account) -> selectors.AutoReloadNow:
    """{% auto_reload_now account as reload %}: what auto-reload is doing for the account now."""
    return selectors.auto_reload_now(account=account)


def _bar(index: int, bar, scale: float, slot: float) -> str:
    x = LEFT + index * slot + slot * 0.2
    width = slot * 0.6
    y = HEIGHT - BOTTOM
    parts = []
    for name, color in COLORS:
        height = getattr(bar, name) * scale
        if height > 0:
            y -= height
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{color}"/>')
    middle = x + width / 2
    label = escape(date_format(bar.label, "M Y"))
    parts.append(
        f'<text x="{middle:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="12" fill="#1d2733">'
        f"{label}</text>"
    )
    if bar.total_cents:
        parts.append(
            f'<text x="{middle:.1f}" y="{max(y - 4, 12):.1f}" text-anchor="middle" font-size="12" fill="#1d2733">'
            f"{escape(format_cents(bar.total_cents))}</text>"
        )
    return "".join(parts)


@register.simple_tag
def spending_chart(bars):
    """A stacked bar per month (calls, taxes, fees), with a title for screen readers."""
    top = max((bar.total_cents for bar in bars), default=0) or 1
    scale = (HEIGHT - TOP - BOTTOM) / top
    slot = (WIDTH - 2 * LEFT) / max(len(bars), 1)
    body = "".join(_bar(i, bar, scale, slot) for i, bar in enumerate(bars))
    names = (_("Calls"), _("Taxes"), _("Fees"))
    legend = " ".join(
        f'<tspan fill="{color}">\u25a0</tspan> {escape(name)}'
        for (_field, color), name in zip(COLORS, names, strict=True)
    )
    title = escape(_("Spending per month: calls, taxes and fees"))
    size = f'viewBox="0 0 {WIDTH} {HEIGHT + 8}" width="{WIDTH}" height="{HEIGHT + 8}"'
    return mark_safe(  # noqa: S308 - every piece of text above is escaped
        f'<svg role="img" aria-labelledby="chart-title" {size} xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-title">{title}</title>{body}'
        f'<text x="{LEFT}" y="{HEIGHT + 4}" font-size="12" fill="#1d2733">{legend}</text></svg>'
    )
