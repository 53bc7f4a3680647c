"""Card errors in plain words: Stripe's messages are written for developers ("Your card has
insufficient funds." is fine, "The PaymentMethod ... requires_action" is not); the holder reads one
of these, in their language, and always learns that nothing was charged."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

_BY_KEYWORD = (
    ("insufficient", gettext_noop("Your card does not have enough money available. Nothing was charged.")),
    ("expired", gettext_noop("Your card has expired. Please use another card. Nothing was charged.")),
    ("cvc", gettext_noop("The security code (CVC) does not match. Please check it. Nothing was charged.")),
    ("security code", gettext_noop("The security code (CVC) does not match. Please check it. Nothing was charged.")),
    ("authentic", gettext_noop("Your bank did not confirm the payment. Nothing was charged; you can try again.")),
    ("3d secure", gettext_noop("Your bank did not confirm the payment. Nothing was charged; you can try again.")),
    ("incorrect", gettext_noop("The card number is not right. Please check it. Nothing was charged.")),
    ("reach", gettext_noop("We could not reach our card processor. Nothing was charged; please try again shortly.")),
    (
        "declined",
        gettext_noop("Your card was declined. Nothing was charged. Please use another card or call your bank."),
    ),
)


def plain_card_error(message: str) -> str:
    """The holder's version of a card error (a message of our own is returned as it is)."""
    lowered = (message or "").lower()
    for keyword, text in _BY_KEYWORD:
        if keyword in lowered:
            return _(text)
    return _(message) if message else _("The payment did not go through. Nothing was charged.")
