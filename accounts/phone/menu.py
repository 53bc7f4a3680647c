"""The voice menu as data: each option is a key, the words that offer it and a handler that answers
with TwiML. `MAIN_MENU.option(...)` adds one; the keys 0 (an agent) and * (repeat) work in every
menu and are handled by the dispatcher, never registered here."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from twilio.twiml.voice_response import VoiceResponse

from accounts.models import AccountKind, AccountStatus, CallingAccount, HolderTimeZone, SuspensionCode
from billing.ledger import kernel as ledger
from billing.statements.history import Filters, calls_for
from billing.statements.models import Statement
from billing.statements.standing import statement_standing
from calls.prices import facility_prices_for_account

from .speech import date_words, money_words, time_words
from .twiml import Call, join

Handler = Callable[[Call], VoiceResponse]


@dataclass(frozen=True)
class MenuOption:
    key: str
    # The sentence that offers the option ("For your balance, press 1."), for this account (None in
    # a menu heard before the PIN).
    offer: Callable[[CallingAccount | None], str]
    handler: Handler
    available: Callable[[CallingAccount | None], bool]


# Every menu by name: the webhooks find a menu by the name in their address (`?menu=main`).
MENUS: dict[str, "Menu"] = {}


class Menu:
    """Options keyed by digit. `requires_pin`: only a caller who proved the PIN on this call hears it
    (a menu about the calling number itself, such as blocking calls to it, may not need one)."""

    def __init__(self, name: str, *, requires_pin: bool = True):
        if name in MENUS:
            raise ValueError(f"a menu named {name!r} exists")
        self.name = name
        self.requires_pin = requires_pin
        self.options: dict[str, MenuOption] = {}
        MENUS[name] = self

    def option(
        self,
        key: str,
        *,
        offer: Callable[[CallingAccount | None], str],
        available: Callable[[CallingAccount | None], bool] = lambda account: True,
    ) -> Callable[[Handler], Handler]:
        """Register `handler` under `key` (a digit 1-9; 0 and * belong to every menu)."""
        if key not in "123456789" or len(key) != 1 or key in self.options:
            raise ValueError(f"key {key!r} cannot be added to the {self.name} menu")

        def register(handler: Handler) -> Handler:
            self.options[key] = MenuOption(key, offer, handler, available)
            return handler

        return register

    def offered(self, account: CallingAccount | None) -> list[MenuOption]:
        return [option for _key, option in sorted(self.options.items()) if option.available(account)]

    def find(self, key: str, account: CallingAccount | None) -> MenuOption | None:
        option = self.options.get(key)
        return option if option is not None and option.available(account) else None

    def words(self, account: CallingAccount | None) -> str:
        """What the menu says: its options, then the agent and repeat keys every menu has."""
        offers = [option.offer(account) for option in self.offered(account)]
        offers.append(_("To speak with an agent, press 0."))
        offers.append(_("To hear this menu again, press star."))
        return join(offers)


MAIN_MENU = Menu("main")


def info(call: Call, item: str, *sentences: str, menu: Menu = MAIN_MENU) -> VoiceResponse:
    """Say an answer, then offer to hear it again (*), the menu again (#) or an agent (0)."""
    response = VoiceResponse()
    call.say(response, *sentences)
    gather = call.gather(response, call.url("voice_choice", menu=menu.name, item=item))
    call.say(
        gather,
        _("To hear this again, press star. For the main menu, press pound. To speak with an agent, press zero."),
    )
    return call.redirect(response, "voice_menu", menu=menu.name)


# --- what the menu tells -------------------------------------------------------------------------


def can_add_money(account: CallingAccount) -> bool:
    """As on the web: a prepaid account takes money unless it is closed or suspended by staff."""
    staff_suspended = account.status == AccountStatus.SUSPENDED and account.suspension_code == SuspensionCode.STAFF
    return account.is_prepaid and account.status != AccountStatus.CLOSED and not staff_suspended


def _is_direct_bill(account: CallingAccount) -> bool:
    return account.kind == AccountKind.DIRECT_BILL


def balance_sentences(account: CallingAccount, language: str) -> list[str]:
    """The balance and about how many minutes it buys at each facility that calls the family."""
    balance = ledger.balance_get(account=account)
    if balance >= 0:
        sentences = [_("Your balance is %(amount)s.") % {"amount": money_words(balance, language)}]
    else:
        sentences = [
            _("Your account owes %(amount)s. Calls connect again once it is paid.")
            % {"amount": money_words(-balance, language)}
        ]
    for price in facility_prices_for_account(account=account, balance_cents=balance):
        if price.is_free:
            sentences.append(_("Calls from %(facility)s are free.") % {"facility": price.facility.name})
        else:
            sentences.append(
                _("That is about %(minutes)s minutes of calls from %(facility)s.")
                % {"minutes": price.minutes or 0, "facility": price.facility.name}
            )
    return sentences


def owed_sentences(account: CallingAccount, language: str) -> list[str]:
    """Direct Bill: what is owed now, and what the latest statement asks for and by when."""
    owed = ledger.owed_cents(account=account)
    sentences = [
        _("You owe %(amount)s.") % {"amount": money_words(owed, language)} if owed else _("Nothing is owed now.")
    ]
    statement = Statement.objects.filter(account=account).order_by("-period_start_date", "-id").first()
    if statement is not None:
        standing = statement_standing(statement=statement)
        if standing.due_cents:
            words = {
                "amount": money_words(standing.due_cents, language),
                "date": date_words(standing.due_date, language),
            }
            if standing.is_past_due:
                sentences.append(_("Your latest statement asked for %(amount)s by %(date)s. It is past due.") % words)
            else:
                sentences.append(_("Your latest statement asks for %(amount)s by %(date)s.") % words)
    return sentences


def last_calls_sentences(account: CallingAccount, language: str) -> list[str]:
    zone = ZoneInfo(account.holder.time_zone)
    calls = list(calls_for(account=account, filters=Filters(zone=account.holder.time_zone))[:3])
    if not calls:
        return [_("There are no calls on this account yet.")]
    sentences = [_("Your last calls:")]
    for call in calls:
        local = timezone.localtime(call.started_at, zone)
        cost = call.charge_cents + call.tax_cents
        sentences.append(
            _("On %(date)s at %(time)s, %(inmate)s at %(facility)s, %(minutes)s minutes, %(cost)s.")
            % {
                "date": date_words(local, language),
                "time": time_words(local, language),
                "inmate": call.inmate.full_name,
                "facility": call.facility.name,
                "minutes": call.billable_minutes,
                "cost": money_words(cost, language) if cost else _("free"),
            }
        )
    return sentences


def _rate_words(rate, language: str) -> str:
    cents = rate * 100
    if cents == cents.to_integral_value():
        return money_words(int(cents), language)
    return _("%(cents)s cents") % {"cents": f"{cents.normalize()}"}


def rates_sentences(account: CallingAccount, language: str) -> list[str]:
    prices = facility_prices_for_account(account=account, balance_cents=ledger.balance_get(account=account))
    if not prices:
        return [_("Rates depend on the facility that calls you. They are read here once a facility has called.")]
    sentences = []
    for price in prices:
        if price.is_free:
            sentences.append(_("Calls from %(facility)s are free.") % {"facility": price.facility.name})
        else:
            sentences.append(
                _("At %(facility)s, calls cost %(rate)s a minute, plus %(tax)s percent tax.")
                % {
                    "facility": price.facility.name,
                    "rate": _rate_words(price.rate_per_minute, language),
                    "tax": price.tax_percent.rstrip("0").rstrip("."),
                }
            )
    return sentences


# --- the agent -----------------------------------------------------------------------------------


def agent_hours() -> tuple[datetime.time, datetime.time]:
    opens, _sep, closes = settings.PHONE_AGENT_HOURS.partition("-")
    return datetime.time.fromisoformat(opens.strip()), datetime.time.fromisoformat(closes.strip())


def agent_open(now: datetime.datetime | None = None) -> bool:
    if not settings.PHONE_AGENT_NUMBER:
        return False
    opens, closes = agent_hours()
    local = timezone.localtime(now or timezone.now(), ZoneInfo(settings.TIME_ZONE)).time()
    return opens <= local < closes


def agent(call: Call) -> VoiceResponse:
    """0 from any menu: a live agent in office hours, else the hours read out."""
    response = VoiceResponse()
    if agent_open():
        call.say(response, _("Connecting you to an agent. Please stay on the line."))
        response.dial(settings.PHONE_AGENT_NUMBER)
        return response
    opens, closes = agent_hours()
    zone = dict(HolderTimeZone.choices).get(settings.TIME_ZONE, settings.TIME_ZONE)
    call.say(
        response,
        _("Our agents answer every day from %(opens)s to %(closes)s, %(zone)s. Please call again then.")
        % {"opens": time_words(opens, call.language), "closes": time_words(closes, call.language), "zone": zone},
    )
    if call.session.verified_at is None:
        call.say(response, _("Goodbye."))
        response.hangup()
        return response
    return call.redirect(response, "voice_menu")


# --- the main menu -------------------------------------------------------------------------------


def _known(account: CallingAccount | None) -> CallingAccount:
    """The caller's account, in a menu heard only after the PIN (where it is always known)."""
    assert account is not None, "a menu that requires the PIN knows the account"
    return account


@MAIN_MENU.option(
    "1",
    offer=lambda account: (
        _("For your balance and minutes, press 1.")
        if _known(account).is_prepaid
        else _("For the amount you owe and the due date, press 1.")
    ),
)
def balance(call: Call) -> VoiceResponse:
    if call.account.is_prepaid:
        return info(call, "1", *balance_sentences(call.account, call.language))
    return info(call, "1", *owed_sentences(call.account, call.language))


@MAIN_MENU.option("2", offer=lambda account: _("For your last three calls, press 2."))
def last_calls(call: Call) -> VoiceResponse:
    return info(call, "2", *last_calls_sentences(call.account, call.language))


@MAIN_MENU.option(
    "3",
    offer=lambda account: (
        _("To add money with a card, press 3.") if _known(account).is_prepaid else _("To pay now with a card, press 3.")
    ),
    available=lambda account: can_add_money(_known(account)) or _is_direct_bill(_known(account)),
)
def add_money(call: Call) -> VoiceResponse:
    response = VoiceResponse()
    return call.redirect(response, "voice_pay_amount")


@MAIN_MENU.option("4", offer=lambda account: _("For the rates, press 4."))
def rates(call: Call) -> VoiceResponse:
    return info(call, "4", *rates_sentences(call.account, call.language))
