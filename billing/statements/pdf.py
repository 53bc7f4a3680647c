"""The statement as a PDF."""

import io
from datetime import date, datetime
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop
from reportlab.lib import colors
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from accounts.selectors import number_view_for_holder
from billing.ledger.money import format_cents
from billing.statements.history import short_date, statement_line_words
from billing.statements.models import Statement, StatementLine
from billing.statements.selectors import statement_lines
from billing.statements.standing import statement_standing

# The PDF


def statement_pdf(*, statement: Statement, now: datetime | None = None) -> bytes:
    """The statement as a PDF: the same summary, standing and lines as the statement page, in the
    holder's language."""
    with translation.override(statement.account.holder.preferred_language or "en"):
        return _statement_pdf(statement=statement, now=now)


def _statement_pdf(*, statement: Statement, now: datetime | None) -> bytes:
    standing = statement_standing(statement=statement, now=now)
    account, holder = statement.account, statement.account.holder
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=letter,
        leftMargin=0.6 * inch,
        rightMargin=0.6 * inch,
        topMargin=0.6 * inch,
        bottomMargin=0.6 * inch,
        title=f"FamilyLine statement {statement.period_start_date:%Y-%m} account {account.pk}",
        author="FamilyLine",
    )
    grid = TableStyle(
        [
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
            ("ALIGN", (-1, 0), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    story = [
        Paragraph(_text(gettext("FamilyLine Direct Bill statement")), styles["Title"]),
        Paragraph(
            _text(
                gettext("Account #%(number)s · %(name)s · %(start)s to %(end)s")
                % {
                    "number": account.pk,
                    "name": holder.display_name,
                    "start": _long_date(statement.period_start_date),
                    "end": _long_date(statement.period_end_date),
                }
            ),
            styles["Normal"],
        ),
    ]
    address = _address_lines(holder)
    if address:
        story.append(Paragraph("<br/>".join(_text(line) for line in address), styles["Normal"]))
    story.append(Spacer(1, 12))
    mail_to = [
        _text(
            gettext(
                "You can also mail a check or money order (no fee); write your account number #%(number)s on it. "
                "Mail it to:"
            )
            % {"number": account.pk}
        ),
        *(_text(line) for line in settings.PAYMENT_MAILING_ADDRESS),
    ]
    summary = [[gettext(label), format_cents(cents)] for label, cents in statement_summary_rows(statement)]
    summary += [
        [gettext("Due date"), _long_date(statement.due_date)],
        [gettext("Paid since this statement"), format_cents(standing.paid_cents)],
        [gettext("Balance due"), format_cents(standing.due_cents)],
    ]
    story += [Table(summary, colWidths=[3.2 * inch, 1.6 * inch], style=grid), Spacer(1, 8)]
    story += [Paragraph("<br/>".join(mail_to), styles["Normal"]), Spacer(1, 16)]
    numbers = number_view_for_holder(holder=holder)
    rows = [
        [
            gettext("Date"),
            gettext("Description"),
            gettext("Facility"),
            gettext("Inmate"),
            gettext("Number"),
            gettext("Min"),
            gettext("Charge"),
            gettext("Tax"),
            gettext("Amount"),
        ]
    ]
    for line in statement_lines(statement=statement):
        is_call = line.kind == StatementLine.Kind.CALL
        rows.append(
            [
                short_date(line.occurred_at, settings.TIME_ZONE),
                Paragraph(_text(statement_line_words(line)), styles["BodyText"]),
                line.facility,
                line.inmate,
                numbers.text(line.number),
                "" if line.minutes is None else str(line.minutes),
                format_cents(line.charge_cents) if is_call else "",
                format_cents(line.tax_cents) if is_call else "",
                format_cents(line.amount_cents),
            ]
        )
    if len(rows) == 1:
        rows.append(["", gettext("No activity this month"), "", "", "", "", "", "", ""])
    widths = [0.75, 1.6, 1.1, 0.95, 0.95, 0.35, 0.6, 0.5, 0.6]
    story.append(Table(rows, colWidths=[w * inch for w in widths], style=grid, repeatRows=1))
    doc.build(story)
    return buffer.getvalue()


def _text(value: object) -> str:
    """User text for a ReportLab Paragraph, whose input is markup: names, addresses and memos are
    shown as typed, never read as tags (an <img src> would embed a server file)."""
    return escape(str(value))


def _address_lines(holder) -> list[str]:
    city = " ".join(
        part for part in (f"{holder.city}," if holder.city else "", holder.state, holder.postal_code) if part
    )
    return [line for line in (holder.address_line1, holder.address_line2, city) if line]


def _long_date(day: date) -> str:
    if translation.get_language() == "es":
        return date_format(day, "DATE_FORMAT")  # "22 de noviembre de 2026"
    return f"{day:%B} {day.day}, {day.year}"


def statement_summary_rows(statement: Statement) -> list[tuple[str, int]]:
    """The summary lines in order, shared by the page, the PDF and the email."""
    # Marked for the catalog; the page translates them when it shows them (the slugs stay English).
    return [
        (gettext_noop("Opening balance"), statement.opening_balance_cents),
        (gettext_noop("Calls"), statement.charges_cents),
        (gettext_noop("Taxes on calls"), statement.tax_cents),
        (gettext_noop("Payments"), statement.payments_cents),
        (gettext_noop("Adjustments"), statement.adjustments_cents),
        (gettext_noop("Closing balance"), statement.closing_balance_cents),
    ]
