"""A charge reported after an account closed is taken from the account's refunds that have not
left yet, before it becomes a deficit (docs/domain.md: a late record on a closed account).

Which refunds have not left: check refunds not yet marked sent (pending, or waiting for an address)
first, oldest first, then card refunds not yet sent to the card processor (no processor id and no
attempt made: one whose request may have reached the processor is left alone). A check refund's
money already left the account for refunds payable: reducing it posts
`refund:<id>:reduced:<cause>` (refunds payable back to the account). A card refund's money is still
on the account until the processor accepts it: it is simply sent smaller. A refund reduced to
nothing is canceled. Only what no refund covers stays on the account as a deficit, which the holder
may pay without a fee (billing.payments).

The work runs right after the charge commits (an outbox row written by the call path through
`accounts.closed_charges`), under the account's ledger-row lock, at most once per cause: each
charge reduces refunds by at most its own amount, and a cause already applied is not applied again.
The holder is emailed the new refund amounts."""

from dataclasses import dataclass

from django.db import transaction

from accounts.closed_charges import CLOSED_ACCOUNT_CHARGED
from accounts.emails import account_email_enqueue
from accounts.models import AccountStatus, CallingAccount
from accounts.outbox import outbox_handler
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, SystemAccount
from billing.payments.models import CHECK_UNSENT_STATUSES, Refund, RefundMethod, RefundReduction, RefundStatus


@dataclass(frozen=True)
class LateChargeOutcome:
    reductions: list[RefundReduction]
    deficit_cents: int  # what the holder still owes after the refunds took their part


def late_charge_apply(*, account_id: int, cause: str, charged_cents: int) -> LateChargeOutcome:
    """Take a charge posted on a closed account under `cause` from its unsent refunds (see the module
    docstring). Safe to call again for the same cause: it changes nothing the second time. An account
    that is not closed is left alone (its deficit is an ordinary one)."""
    with transaction.atomic():
        # Lock order step 1, as closing and sending a card refund take it: neither can send a refund
        # this is reducing.
        account = CallingAccount.objects.select_related("ledger_account").get(pk=account_id)
        balance = ledger.balance_lock(account=account)
        account.refresh_from_db(fields=["status"])
        if account.status != AccountStatus.CLOSED or charged_cents <= 0:
            return LateChargeOutcome([], max(0, -balance))
        if RefundReduction.objects.filter(refund__account=account, cause=cause).exists():
            return LateChargeOutcome([], _deficit(account=account, balance_cents=balance))
        unsent = _unsent_refunds(account=account)
        card_unsent = sum(r.amount_cents for r in unsent if r.method == RefundMethod.CARD)
        # What the account lacks once the card refunds still to send have taken their money.
        short = min(charged_cents, max(0, card_unsent - balance))
        reductions = []
        for refund in unsent:
            if short <= 0:
                break
            taken = min(short, refund.amount_cents)
            reductions.append(_reduce(refund=refund, amount_cents=taken, cause=cause))
            short -= taken
        if reductions:
            account_email_enqueue(
                account_id=account.pk,
                template="refund_reduced",
                charged_cents=charged_cents,
                taken_cents=sum(r.amount_cents for r in reductions),
                refunds=[
                    {
                        "method": r.refund.method,
                        "was_cents": r.refund.amount_cents + r.amount_cents,
                        "amount_cents": r.refund.amount_cents,
                    }
                    for r in reductions
                ],
                deficit_cents=_deficit(account=account),
            )
        return LateChargeOutcome(reductions, _deficit(account=account))


def _unsent_refunds(*, account: CallingAccount) -> list[Refund]:
    checks = Refund.objects.filter(account=account, method=RefundMethod.CHECK, status__in=CHECK_UNSENT_STATUSES)
    cards = Refund.objects.filter(
        account=account,
        method=RefundMethod.CARD,
        status=RefundStatus.PENDING,
        stripe_refund_id__isnull=True,
        failure_message="",
    )
    return [
        *checks.select_for_update().order_by("created_at", "id"),
        *cards.select_for_update().order_by("created_at", "id"),
    ]


def _reduce(*, refund: Refund, amount_cents: int, cause: str) -> RefundReduction:
    entry = None
    if refund.method == RefundMethod.CHECK:
        assert refund.account is not None, "check refunds are made only for calling accounts"
        entry = ledger.post(
            idempotency_key=f"refund:{refund.pk}:reduced:{cause}",
            kind=EntryKind.REFUND,
            lines=[
                (ledger.system_account(SystemAccount.REFUNDS_PAYABLE), -amount_cents),
                (ledger.account_ledger(refund.account), amount_cents),
            ],
            memo=f"Refund #{refund.pk} reduced by a charge reported after the close ({cause})",
        ).entry
    refund.amount_cents -= amount_cents
    fields = ["amount_cents"]
    if refund.amount_cents == 0:
        refund.status = RefundStatus.CANCELED
        fields.append("status")
    refund.save(update_fields=fields)
    return RefundReduction.objects.create(refund=refund, cause=cause, amount_cents=amount_cents, entry=entry)


def _deficit(*, account: CallingAccount, balance_cents: int | None = None) -> int:
    """What the holder owes once every unsent card refund has gone out."""
    balance = ledger.balance_get(account=account) if balance_cents is None else balance_cents
    card_unsent = sum(
        Refund.objects.filter(account=account, method=RefundMethod.CARD, status=RefundStatus.PENDING).values_list(
            "amount_cents", flat=True
        )
    )
    return max(0, card_unsent - balance)


@outbox_handler(CLOSED_ACCOUNT_CHARGED)
def _closed_account_charged(*, account_id: int, cause: str, charged_cents: int) -> None:
    late_charge_apply(account_id=account_id, cause=cause, charged_cents=charged_cents)
