"""Texts for staff: every message and its delivery statuses (an "unknown" one may have gone out and is
never re-sent by itself: check it in Twilio's console), the texts people sent and the replies, the
consents kept and the numbers that said STOP."""

from django.contrib import admin

from config.admin_base import ReadOnlyAdmin, ReadOnlyInline, local_time

from .models import TextConsent, TextMessage, TextOptOut, TextReceived, TextStatusEvent


class TextStatusEventInline(ReadOnlyInline):
    model = TextStatusEvent
    fields = ["received_at", "status", "error_code", "provider_sid"]


@admin.register(TextMessage)
class TextMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "to_number", "channel", "purpose", "template", "status", "delivery_status", "created"]
    list_filter = ["status", "delivery_status", "purpose", "channel"]
    search_fields = ["to_number", "provider_sid", "account__id"]
    fields = (
        "to_number",
        "channel",
        "purpose",
        "template",
        "language",
        "body",
        "segments",
        "account",
        "status",
        "send_after",
        "attempted_at",
        "provider_sid",
        "error_code",
        "error_message",
        "delivery_status",
        "created_at",
    )
    readonly_fields = fields
    inlines = [TextStatusEventInline]

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj):
        return local_time(obj.created_at)


@admin.register(TextStatusEvent)
class TextStatusEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "provider_sid", "status", "error_code", "message"]
    list_filter = ["status"]
    search_fields = ["provider_sid"]


@admin.register(TextConsent)
class TextConsentAdmin(ReadOnlyAdmin):
    list_display = ["number", "account", "holder", "language", "confirmed_at", "withdrawn_at", "withdrawn_how"]
    list_filter = [("withdrawn_at", admin.EmptyFieldListFilter), "language"]
    search_fields = ["number", "holder__email", "account__id"]


@admin.register(TextOptOut)
class TextOptOutAdmin(ReadOnlyAdmin):
    list_display = ["number", "keyword", "opted_out_at", "resumed_at"]
    search_fields = ["number"]


@admin.register(TextReceived)
class TextReceivedAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "from_number", "keyword", "body"]
    list_filter = ["keyword"]
    search_fields = ["from_number", "body"]
