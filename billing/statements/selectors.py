"""Reads of statements for the holder's pages and the admin."""

from django.db.models import QuerySet

from accounts.models import User
from billing.statements.models import Statement, StatementLine

# Reads


def statement_list_for_holder(*, holder: User) -> QuerySet[Statement]:
    return (
        Statement.objects.filter(account__holder=holder)
        .select_related("account")
        .order_by("-period_start_date", "-account_id", "-id")
    )


def statement_get_for_viewer(*, user: User, pk: int) -> Statement | None:
    """The holder's own statement; staff may open any (the admin links to the PDF)."""
    found = Statement.objects.filter(pk=pk).select_related("account__holder")
    return (found if user.is_staff else found.filter(account__holder=user)).first()


def statement_lines(*, statement: Statement) -> QuerySet[StatementLine]:
    return statement.lines.select_related(
        "entry__payment", "entry__call_credit__call__inmate", "entry__call_credit__call__facility"
    ).order_by("occurred_at", "id")
