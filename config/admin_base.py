"""The one read-only base for the admin: append-only records (ledger entries, payments, call records,
statements, audit rows) are shown to staff for reading, never added, changed or deleted here."""

from django.contrib import admin


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
