"""The one read-only base for the admin: append-only records (ledger entries, payments, call records,
statements, audit rows) are shown to staff for reading, never added, changed or deleted here."""

from collections.abc import Callable

from django.contrib import admin
from django.utils import timezone

from billing.money import format_cents


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger is append-only: staff can read it here but never add, change or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent for reading only (ledger lines, payments, audit rows)."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def local_time(value) -> str:
    """A moment in the site's time zone, with the zone named: "Dec 1, 2026, 5:40 PM EST"."""
    if value is None:
        return "-"
    local = timezone.localtime(value)
    return f"{local:%b} {local.day}, {local:%Y}, {local.strftime('%I:%M %p').lstrip('0')} {local.tzname()}"


def money_column(field: str, description: str) -> Callable:
    """An admin column (or read-only field) showing an integer-cents field in dollars."""

    @admin.display(description=description, ordering=field)
    def column(self, obj):
        value = getattr(obj, field)
        return "-" if value is None else format_cents(value)

    column.__name__ = f"{field}_dollars"
    return column


def time_column(field: str, description: str) -> Callable:
    """An admin column (or read-only field) showing a moment in local time with the zone."""

    @admin.display(description=description, ordering=field)
    def column(self, obj):
        return local_time(getattr(obj, field))

    column.__name__ = f"{field}_local"
    return column
