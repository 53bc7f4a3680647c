"""The ledger's models moved from the billing app to an app of their own, keeping their tables: a
database migrated before the move migrates forward with its rows, and staff keep their rights."""

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from billing.ledger import kernel as ledger
from billing.ledger.models import Hold, JournalEntry, LedgerAccount, Posting
from billing.payments.selectors import ledger_violations
from tests.factories import InmateFactory, UserFactory
from tests.helpers import make_account

BEFORE_THE_MOVE = [
    ("accounts", "0008_phone_pins_and_sessions"),
    ("billing", "0018_single_call_payments_and_refunds"),
    ("calls", "0009_single_calls_and_line_type_lookups"),
    ("ledger", None),
]
LEDGER_VIEW_PERMISSIONS = {"view_ledgeraccount", "view_journalentry", "view_posting", "view_hold"}


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db
def test_a_database_migrated_before_the_move_migrates_forward_with_its_rows():
    account = make_account()
    inmate = InmateFactory()
    old = _migrate(BEFORE_THE_MOVE)
    OldLedgerAccount = old.get_model("billing", "LedgerAccount")
    OldEntry = old.get_model("billing", "JournalEntry")
    OldPosting = old.get_model("billing", "Posting")
    OldHold = old.get_model("billing", "Hold")
    ledger_row = OldLedgerAccount.objects.get(calling_account_id=account.pk)
    clearing, _ = OldLedgerAccount.objects.get_or_create(code="system:card_clearing", defaults={"name": "Card"})
    entry = OldEntry.objects.create(idempotency_key="payment:before-the-move", kind="payment")
    OldPosting.objects.create(entry=entry, ledger_account=clearing, amount_cents=-1500)
    OldPosting.objects.create(entry=entry, ledger_account=ledger_row, amount_cents=1500)
    OldLedgerAccount.objects.filter(pk=ledger_row.pk).update(balance_cents=1500)
    now = timezone.now()
    OldHold.objects.create(
        call_id="held-before-the-move",
        account_id=account.pk,
        facility_id=inmate.facility_id,
        inmate_id=inmate.pk,
        dialed_number="+18605550100",
        billing="collect",
        amount_cents=300,
        max_seconds=600,
        response={"decision": "allow"},
        expires_at=now + timezone.timedelta(hours=1),
    )

    _migrate(_latest())
    ContentType.objects.clear_cache()

    moved = JournalEntry.objects.get(idempotency_key="payment:before-the-move")
    assert sorted(Posting.objects.filter(entry=moved).values_list("amount_cents", flat=True)) == [-1500, 1500]
    assert LedgerAccount.objects.get(calling_account=account).balance_cents == 1500
    assert Hold.objects.get(call_id="held-before-the-move").amount_cents == 300
    assert ledger.balance_get(account=account) == 1500
    assert ledger.holds_open_cents(account=account, now=now) == 300
    # The kernel keeps working on the moved rows, and the ledger check holds.
    ledger.hold_release(call_id="held-before-the-move", now=now)
    assert ledger.holds_open_cents(account=account, now=now) == 0
    assert ledger_violations() == []


@pytest.mark.django_db
def test_the_moved_models_keep_their_tables_and_content_types():
    assert {m._meta.db_table for m in (LedgerAccount, JournalEntry, Posting, Hold)} == {
        "billing_ledgeraccount",
        "billing_journalentry",
        "billing_posting",
        "calls_callhold",
    }
    labels = ContentType.objects.filter(model__in=["ledgeraccount", "journalentry", "posting", "hold"])
    assert {(ct.app_label, ct.model) for ct in labels} == {
        ("ledger", "ledgeraccount"),
        ("ledger", "journalentry"),
        ("ledger", "posting"),
        ("ledger", "hold"),
    }


def _ledger_permissions(group_name):
    group = Group.objects.get(name=group_name)
    return {(p.content_type.app_label, p.codename) for p in group.permissions.select_related("content_type")}


def _assert_staff_keep_the_ledger_views():
    for name in ("billing", "supervisor"):
        perms = _ledger_permissions(name)
        assert {("ledger", codename) for codename in LEDGER_VIEW_PERMISSIONS} <= perms, name
        assert not {("billing", codename) for codename in LEDGER_VIEW_PERMISSIONS} & perms, name
    assert not {codename for _, codename in _ledger_permissions("agent")} & LEDGER_VIEW_PERMISSIONS


@pytest.mark.django_db
def test_staff_groups_keep_their_ledger_permissions_under_the_new_app_label():
    _assert_staff_keep_the_ledger_views()


@pytest.mark.django_db
def test_staff_groups_keep_their_ledger_permissions_across_the_migration():
    _migrate(BEFORE_THE_MOVE)
    ContentType.objects.clear_cache()
    billing_group = Group.objects.get(name="billing")
    before = {(p.content_type.app_label, p.codename) for p in billing_group.permissions.select_related("content_type")}
    assert {("billing", codename) for codename in LEDGER_VIEW_PERMISSIONS} <= before
    _migrate(_latest())
    ContentType.objects.clear_cache()
    _assert_staff_keep_the_ledger_views()
    staff = UserFactory(is_staff=True)
    staff.groups.add(billing_group)
    assert all(staff.has_perm(f"ledger.{codename}") for codename in LEDGER_VIEW_PERMISSIONS)
