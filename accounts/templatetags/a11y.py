"""Form fields as everyone can use them: `{{ field|a11y }}` renders the widget with the
autocomplete hint its name calls for (WCAG 1.3.5), and moves focus to the first field in error with
`autofocus` (no JavaScript). Django itself ties errors and help text to the field (aria-invalid,
aria-describedby) when the template gives them the ids `<id>_error` and `<id>_helptext`."""

from django import template

register = template.Library()

AUTOCOMPLETE = {
    "first_name": "given-name",
    "last_name": "family-name",
    "legal_name": "name",
    "email": "email",
    "address_line1": "address-line1",
    "address_line2": "address-line2",
    "city": "address-level2",
    "state": "address-level1",
    "postal_code": "postal-code",
    "date_of_birth": "bday",
    "password": "current-password",
    "password1": "new-password",
    "password2": "new-password",
}


def _first_error_name(form) -> str | None:
    for name in form.fields:
        if name in form.errors and not form.fields[name].widget.is_hidden:
            return name
    return None


@register.filter
def a11y(field):
    attrs = {}
    if field.name in AUTOCOMPLETE and "autocomplete" not in field.field.widget.attrs:
        attrs["autocomplete"] = AUTOCOMPLETE[field.name]
    if field.errors and _first_error_name(field.form) == field.name:
        attrs["autofocus"] = True
    return field.as_widget(attrs=attrs)
