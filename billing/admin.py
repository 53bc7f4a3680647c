"""The billing app's staff pages. The ledger's own (entries and ledger accounts, read-only) are here,
because the ledger app imports nothing of the project, not even its admin base; each workflow
package registers its pages in its own `admin` module, imported below."""

from django.contrib import admin

from billing.ledger import kernel as ledger
from billing.ledger.models import JournalEntry, LedgerAccount, Posting
from billing.ledger.money import format_cents
from billing.payments import admin as payments_admin
from billing.staff import admin as staff_admin
from billing.statements import admin as statements_admin
from config.admin_base import ReadOnlyAdmin, ReadOnlyInline, local_time, money_column, time_column

# The workflow packages' admin modules register their pages when imported.
__all__ = ["payments_admin", "staff_admin", "statements_admin"]


class PostingInline(ReadOnlyInline):
    model = Posting
    fields = ["ledger_account", "amount"]
    amount = money_column("amount_cents", "amount")


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created", "kind", "idempotency_key", "memo"]
    list_filter = ["kind", "created_at"]
    search_fields = ["idempotency_key", "memo"]
    inlines = [PostingInline]
    created = time_column("created_at", "posted at")


class AccountPostingInline(PostingInline):
    """A ledger account's lines, newest first, each with its entry (read-only)."""

    fields = ["entry", "entry_memo", "entry_created_at", "amount"]
    ordering = ["-entry__created_at", "-id"]

    @admin.display(description="memo")
    def entry_memo(self, obj):
        return obj.entry.memo

    @admin.display(description="at")
    def entry_created_at(self, obj):
        return local_time(obj.entry.created_at)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("entry")


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "balance"]
    search_fields = ["code", "name"]
    inlines = [AccountPostingInline]
    fields = ("code", "name", "calling_account", "balance", "created")
    readonly_fields = fields
    created = time_column("created_at", "created")

    @admin.display(description="balance")
    def balance(self, obj):
        # A system account keeps no cached balance: the kernel sums its postings.
        cents = obj.balance_cents if obj.calling_account_id else ledger.balance(obj)
        return format_cents(cents or 0)

    def get_inlines(self, request, obj):
        # System accounts take a posting from nearly every entry: too many lines for one page.
        return self.inlines if obj is not None and obj.calling_account_id else []
