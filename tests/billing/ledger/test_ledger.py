import threading
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.services import account_open
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, JournalEntry, LedgerAccount, Posting, SystemAccount
from tests.factories import UserFactory


def _deposit(account_ledger, cents, key, fee=0):
    lines = [(ledger.system_account(SystemAccount.CARD_CLEARING), -(cents + fee)), (account_ledger, cents)]
    if fee:
        lines.append((ledger.system_account(SystemAccount.FEE_REVENUE), fee))
    return ledger.post(idempotency_key=key, kind=EntryKind.PAYMENT, lines=lines)


def _charge(account_ledger, cents, tax, key):
    lines = [(account_ledger, -(cents + tax)), (ledger.system_account(SystemAccount.CALL_REVENUE), cents)]
    if tax:
        lines.append((ledger.system_account(SystemAccount.TAX_PAYABLE), tax))
    return ledger.post(idempotency_key=key, kind=EntryKind.CALL, lines=lines)


def _run_threads(count, target):
    barrier = threading.Barrier(count)
    errors = []

    def run(i):
        try:
            barrier.wait()
            target(i)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.fixture
def account_ledger(db):
    return ledger.account_ledger(account_open(holder=UserFactory()))


def test_deposit_updates_cached_balance_and_balances(account_ledger):
    result = _deposit(account_ledger, 2500, "deposit:1", fee=300)
    assert result.created
    account_ledger.refresh_from_db()
    assert account_ledger.balance_cents == 2500 == ledger.balance(account_ledger)
    assert sum(p.amount_cents for p in result.entry.postings.all()) == 0
    assert ledger.check() == []


def test_same_idempotency_key_posts_once(account_ledger):
    first = _deposit(account_ledger, 1000, "payment:same")
    second = _deposit(account_ledger, 1000, "payment:same")
    assert first.created and not second.created
    assert first.entry.pk == second.entry.pk
    account_ledger.refresh_from_db()
    assert account_ledger.balance_cents == 1000
    assert JournalEntry.objects.filter(idempotency_key="payment:same").count() == 1


@pytest.mark.parametrize(
    ("lines_cents", "message"),
    [([1000, -999], "does not balance"), ([1000], "at least two postings"), ([0, 0], "cannot be zero")],
)
def test_unbalanced_or_malformed_entry_is_refused(account_ledger, lines_cents, message):
    clearing = ledger.system_account(SystemAccount.CARD_CLEARING)
    accounts = [account_ledger, clearing]
    with pytest.raises(ledger.LedgerError, match=message):
        ledger.post(
            idempotency_key="bad",
            kind=EntryKind.ADJUSTMENT,
            lines=[(accounts[i], cents) for i, cents in enumerate(lines_cents)],
        )
    assert not JournalEntry.objects.exists()
    account_ledger.refresh_from_db()
    assert account_ledger.balance_cents == 0


def test_float_amounts_are_refused(account_ledger):
    clearing = ledger.system_account(SystemAccount.CARD_CLEARING)
    with pytest.raises(ledger.LedgerError, match="integer cents"):
        ledger.post(idempotency_key="f", kind=EntryKind.PAYMENT, lines=[(account_ledger, 10.5), (clearing, -10.5)])


def test_reversal_restores_balance_and_happens_once(account_ledger):
    entry = _charge(account_ledger, 210, 13, "call:abc").entry
    first = ledger.reverse(entry=entry)
    again = ledger.reverse(entry=entry)
    assert first.created and not again.created
    account_ledger.refresh_from_db()
    assert account_ledger.balance_cents == 0
    assert ledger.check() == []


def test_a_second_reversal_under_another_key_is_refused_and_changes_nothing(account_ledger):
    entry = _charge(account_ledger, 210, 13, "call:twice").entry
    ledger.reverse(entry=entry)
    lines = [(p.ledger_account, -p.amount_cents) for p in entry.postings.select_related("ledger_account")]
    with pytest.raises(ledger.LedgerError, match="already reversed"), transaction.atomic():
        ledger.post(idempotency_key="reversal:other", kind=EntryKind.REVERSAL, lines=lines, reverses=entry)
    account_ledger.refresh_from_db()
    assert account_ledger.balance_cents == 0
    assert not JournalEntry.objects.filter(idempotency_key="reversal:other").exists()
    assert ledger.check() == []


def test_postings_are_append_only_in_the_database(account_ledger):
    _deposit(account_ledger, 500, "payment:ro")
    with (
        pytest.raises(DatabaseError, match="append-only: UPDATE on billing_posting"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE billing_posting SET amount_cents = amount_cents + 1")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM billing_posting")
    assert Posting.objects.count() == 2


def test_ledger_check_catches_a_balance_corrupted_by_raw_sql(account_ledger):
    _deposit(account_ledger, 700, "payment:c")
    call_command("ledger_check")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE billing_ledgeraccount SET balance_cents = 99999 WHERE id = %s", [account_ledger.pk])
    with pytest.raises(CommandError, match="1 ledger invariant violation"):
        call_command("ledger_check")
    violations = ledger.check()
    assert [v.rule for v in violations] == ["cached_balance_mismatch"]
    assert "caches 99999 cents but its postings sum to 700" in str(violations[0])


def test_ledger_check_catches_an_unbalanced_entry_written_around_the_service(account_ledger):
    entry = JournalEntry.objects.create(idempotency_key="raw", kind=EntryKind.ADJUSTMENT)
    Posting.objects.create(entry=entry, ledger_account=account_ledger, amount_cents=5)
    rules = sorted(v.rule for v in ledger.check())
    assert rules == ["cached_balance_mismatch", "entry_without_two_postings", "unbalanced_entry"]


@pytest.mark.django_db(transaction=True)
def test_32_threads_posting_at_once_lose_no_update():
    account = ledger.account_ledger(account_open(holder=UserFactory()))
    ledger.system_account(SystemAccount.CARD_CLEARING)
    ledger.system_account(SystemAccount.CALL_REVENUE)
    ledger.system_account(SystemAccount.TAX_PAYABLE)
    threads, per_thread = 32, 5

    def work(i):
        for j in range(per_thread):
            _deposit(account, 1000 + i, f"payment:t{i}:{j}")
            _charge(account, 21, 1, f"call:t{i}:{j}")

    _run_threads(threads, work)
    expected = sum((1000 + i) * per_thread - 22 * per_thread for i in range(threads))
    account.refresh_from_db()
    assert account.balance_cents == expected == ledger.balance(account)
    assert JournalEntry.objects.count() == threads * per_thread * 2
    assert ledger.check() == []


@pytest.mark.django_db(transaction=True)
def test_same_key_posted_concurrently_creates_one_entry():
    account = ledger.account_ledger(account_open(holder=UserFactory()))
    ledger.system_account(SystemAccount.CARD_CLEARING)
    results = []
    _run_threads(32, lambda i: results.append(_deposit(account, 2500, "payment:race")))
    assert sum(r.created for r in results) == 1
    assert len({r.entry.pk for r in results}) == 1
    account.refresh_from_db()
    assert account.balance_cents == 2500
    assert JournalEntry.objects.filter(idempotency_key="payment:race").count() == 1
    assert ledger.check() == []


operation = st.one_of(
    st.tuples(st.just("deposit"), st.integers(1, 5000), st.integers(0, 595)),
    st.tuples(st.just("charge"), st.integers(1, 3000), st.integers(0, 300)),
    st.tuples(st.just("reverse"), st.integers(0, 1000), st.just(0)),
    st.tuples(st.just("repeat"), st.integers(0, 1000), st.just(0)),
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=25))
def test_random_deposits_charges_and_reversals_keep_every_invariant(ops):
    account = ledger.account_ledger(account_open(holder=UserFactory()))
    expected = 0
    posted: list[tuple[JournalEntry, int]] = []  # entry and its effect on the account
    for kind, a, b in ops:
        key = f"{kind}:{uuid.uuid4()}"
        if kind == "deposit":
            result = _deposit(account, a, key, fee=b)
            posted.append((result.entry, a))
            expected += a
        elif kind == "charge":
            result = _charge(account, a, b, key)
            posted.append((result.entry, -(a + b)))
            expected -= a + b
        elif posted and kind == "reverse":
            entry, effect = posted[a % len(posted)]
            if entry.kind != EntryKind.REVERSAL and not JournalEntry.objects.filter(reverses=entry).exists():
                result = ledger.reverse(entry=entry)
                posted.append((result.entry, -effect))
                expected -= effect
        elif posted and kind == "repeat":
            entry, _ = posted[a % len(posted)]
            lines = [(p.ledger_account, p.amount_cents) for p in entry.postings.all()]
            again = ledger.post(idempotency_key=entry.idempotency_key, kind=entry.kind, lines=lines)
            assert not again.created
    account.refresh_from_db()
    assert account.balance_cents == expected == ledger.balance(account)
    assert ledger.check() == []
    assert LedgerAccount.objects.get(code=f"system:{SystemAccount.CARD_CLEARING}").balance_cents is None
