"""The one read-only base for the admin: append-only records (ledger entries, payments, call records,
statements, audit rows) are shown to staff for reading, never added, changed or deleted here."""

from collections.abc import Callable

from django.contrib import admin
from django.db import models
from django.utils import timezone

from billing.ledger.money import format_cents


class StaffReadableMixin:
    """Shows every field of the model read-only, the way staff read them, unless the admin lists its
    own `fields` (a field in its `exclude` is never shown): integer-cents fields in dollars under their
    name without "cents" ("Charge: $1.35"), moments in the site's time zone with the zone named,
    choices by their label (Django's own), and codes stored without choices by the label in
    `code_labels` ({"billing": Billing})."""

    code_labels: dict[str, type[models.Choices]] = {}

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        hidden = set(self.exclude or ())
        self.staff_fields = [
            self._readable(field)
            for field in model._meta.concrete_fields
            if not field.primary_key and field.name not in hidden
        ]

    def _readable(self, field) -> str:
        if isinstance(field, models.IntegerField) and field.name.endswith("_cents"):
            name = f"{field.name.removesuffix('_cents')}_dollars"
            label = str(field.verbose_name).removesuffix(" cents")
            display = money_column(field.name, label)
        elif isinstance(field, models.DateTimeField):
            name, display = f"{field.name}_local", time_column(field.name, str(field.verbose_name))
        elif field.name in self.code_labels and not field.choices:
            label = str(field.verbose_name)
            name, display = f"{field.name}_label", code_column(field.name, self.code_labels[field.name], label)
        else:
            return field.name
        if not hasattr(self, name):
            setattr(self, name, display.__get__(self))
        return name

    def get_fields(self, request, obj=None):
        return self.fields or self.staff_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields or self.get_fields(request, obj)


class ReadOnlyAdmin(StaffReadableMixin, admin.ModelAdmin):
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


def code_column(field: str, choices: type[models.Choices], description: str) -> Callable:
    """An admin column (or read-only field) showing a code stored without choices by its label."""

    @admin.display(description=description, ordering=field)
    def column(self, obj):
        value = getattr(obj, field)
        return dict(choices.choices).get(value, value) or "-"

    column.__name__ = f"{field}_label"
    return column
