"""Input hygiene and the client address, shared by every form, the API and the login guards."""

import ipaddress
import re

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.widgets import AutocompleteMixin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# C0 controls except tab, line feed and carriage return; DEL; C1 controls; the Unicode line and
# paragraph separators and the bidirectional overrides (text that displays differently from what
# it stores). NUL is among them: PostgreSQL cannot store it in text, so it was a 500. So are lone
# surrogates (a JSON "\\ud800"), which no UTF-8 text can hold.
CONTROL_CHARACTERS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
CONTROL_CHARACTERS_MESSAGE = _("Remove the control characters from this field.")


def has_control_characters(value: str) -> bool:
    return bool(CONTROL_CHARACTERS.search(value))


def reject_control_characters(value) -> None:
    """Validator for any text field (forms, admin, API serializers)."""
    if isinstance(value, str) and has_control_characters(value):
        raise ValidationError(CONTROL_CHARACTERS_MESSAGE, code="control_characters")


def text_fields_harden(form: forms.BaseForm) -> None:
    """Add the control-character check to every text field of `form` (inputs that become text,
    such as amounts typed in dollars, included)."""
    for field in form.fields.values():
        if isinstance(field, forms.CharField) and reject_control_characters not in field.validators:
            field.validators.append(reject_control_characters)
        _wrap_clean(field)


def _wrap_clean(field: forms.Field) -> None:
    # Fields whose clean() parses the raw text first (amounts, phone numbers, choices) never reach
    # their validators with the raw value: check the raw input before anything else looks at it.
    if getattr(field, "_control_checked", False):
        return
    original = field.clean

    def clean(value):
        for item in value if isinstance(value, list | tuple) else [value]:
            reject_control_characters(item)
        return original(value)

    # This one field instance's clean() is wrapped (not the class's): an instance attribute on purpose.
    field.clean = clean  # type: ignore[method-assign]
    field._control_checked = True  # type: ignore[attr-defined]  # a marker so a field is wrapped once


def autocomplete_widgets_harden(form: forms.BaseForm) -> None:
    """An admin autocomplete widget looks the submitted value up to show it again when the form has
    errors: a value that is not even a key ("abc" for a numeric id) made that lookup raise (a 500).
    Such a value is left out of the lookup; the field itself answers "Select a valid choice"."""
    for field in form.fields.values():
        widget = getattr(field.widget, "widget", field.widget)  # the admin wraps it (add/change links)
        if isinstance(widget, AutocompleteMixin) and not getattr(widget, "_keys_checked", False):
            _only_keys_looked_up(widget)


def _only_keys_looked_up(widget: AutocompleteMixin) -> None:
    original = widget.optgroups
    remote = widget.field.remote_field
    target = remote.model._meta.get_field(getattr(remote, "field_name", None) or remote.model._meta.pk.name)

    def optgroups(name, value, attr=None):
        keys = []
        for item in value:
            try:
                target.get_prep_value(target.to_python(item))
            except (ValidationError, TypeError, ValueError):
                continue
            keys.append(item)
        return original(name, keys, attr)

    # This one widget instance's optgroups() is wrapped (not the class's): an instance attribute on purpose.
    widget.optgroups = optgroups  # type: ignore[method-assign]
    widget._keys_checked = True  # type: ignore[attr-defined]  # a marker so a widget is wrapped once


class HardenedFormMixin:
    """Put first in a form's bases: every field refuses control characters with a field error, and
    an autocomplete widget never looks up a value that cannot be a key."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text_fields_harden(self)
        autocomplete_widgets_harden(self)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR without a proxy; behind TRUSTED_PROXY_COUNT proxies, the
    address the outermost trusted proxy appended to X-Forwarded-For (entries further left are
    whatever the client sent and are never trusted). Falls back to REMOTE_ADDR when the header is
    missing, short or not an address."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        if len(hops) >= count:
            candidate = hops[-count]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return remote


def _hardened_form_class(form_class: type[forms.BaseForm]) -> type[forms.BaseForm]:
    if issubclass(form_class, HardenedFormMixin):
        return form_class
    return type(f"Hardened{form_class.__name__}", (HardenedFormMixin, form_class), {"__module__": __name__})


def admin_site_harden(site) -> None:
    """Every form of every model registered on `site` (the project's and third-party apps'), its
    inlines' forms and the staff login form refuse control characters. Called once, where the admin
    site is configured (config/urls.py), so no admin class needs to remember it."""
    site.login_form = _hardened_form_class(site.login_form or AdminAuthenticationForm)
    for model_admin in site._registry.values():
        model_admin.form = _hardened_form_class(model_admin.form)
        if getattr(model_admin, "add_form", None) is not None:  # UserAdmin's creation form
            model_admin.add_form = _hardened_form_class(model_admin.add_form)
        if getattr(model_admin, "change_password_form", None) is not None:
            model_admin.change_password_form = _hardened_form_class(model_admin.change_password_form)
        model_admin.inlines = [
            type(inline.__name__, (inline,), {"form": _hardened_form_class(inline.form), "__module__": __name__})
            for inline in model_admin.inlines
        ]


def axes_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The login name django-axes records (AXES_USERNAME_CALLABLE): the admin's `username` or
    allauth's `email`, without control characters and cut to the 255 characters its tables hold, so
    a 20,000-character or NUL-laden guess is an ordinary failure, not a database error."""
    value = None
    if credentials:
        value = credentials.get("username") or credentials.get("email")
    if value is None:
        value = getattr(request, "POST", {}).get("username")
    if not isinstance(value, str):
        return None
    return CONTROL_CHARACTERS.sub("", value)[:255]
