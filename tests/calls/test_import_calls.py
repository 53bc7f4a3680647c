from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.ledger import kernel as ledger
from billing.ledger.models import Hold
from calls.callpath import importing
from calls.models import CallRecord, CallSource
from calls.selectors import facility_cache_clear
from tests.helpers import authorize, balance_of, complete, make_account

pytestmark = pytest.mark.django_db

HEADER = "call_id,facility,inmate,dialed_number,started_at,duration_seconds,disconnect\n"


def _run(tmp_path, text):
    path = tmp_path / "calls.csv"
    path.write_text(text, encoding="utf-8")
    out = StringIO()
    call_command("import_calls", str(path), stdout=out)
    return out.getvalue()


def test_import_posts_good_rows_skips_duplicates_and_explains_rejections(tmp_path, facility, inmate):
    account = make_account(balance_cents=1000, number="+18605550147")
    complete(facility, inmate, account.test_number, seconds=60, cid="already-by-api")
    f, i = facility.code, inmate.inmate_number
    rows = [
        f"imp-1,{f},{i},(860) 555-0147,2026-01-05T14:00:00-05:00,541,normal",
        f"imp-2,{f},{i},+18605550147,2026-01-05T15:00:00-05:00,45,dropped",
        f"imp-1,{f},{i},+18605550147,2026-01-05T14:00:00-05:00,541,normal",
        f"already-by-api,{f},{i},+18605550147,2026-01-05T16:00:00-05:00,60,",
        f"imp-3,NOPE,{i},+18605550147,2026-01-05T14:00:00-05:00,60,normal",
        f"imp-4,{f},{i},+18605550147,not a date,-5,normal",
        f"imp-5,{f},{i},+18605559999,2026-01-05T14:00:00-05:00,60,normal",
        "only,three,columns",
    ]
    out = _run(tmp_path, HEADER + "\n".join(rows) + "\n")
    assert out.splitlines()[0] == "posted: 2, duplicate: 2, rejected: 4"
    assert "line 6: facility: No facility has this code." in out
    assert "line 7: started_at:" in out and "duration_seconds:" in out
    assert "line 8: dialed_number: No FamilyLine account has this number registered" in out
    assert "line 9: dialed_number: This field may not be blank." in out
    assert balance_of(account) == 1000 - 22 - 223
    assert CallRecord.objects.get(call_id="imp-1").source == CallSource.IMPORT
    assert ledger.check() == []
    again = _run(tmp_path, HEADER + "\n".join(rows) + "\n")
    assert again.splitlines()[0] == "posted: 0, duplicate: 4, rejected: 4"
    assert balance_of(account) == 1000 - 22 - 223


def test_file_without_the_needed_columns_is_refused(tmp_path, db):
    with pytest.raises(CommandError, match="lacks the column"):
        _run(tmp_path, "call_id,duration\nx,1\n")


def test_missing_file_is_a_clear_error(tmp_path, db):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_calls", str(tmp_path / "nope.csv"))


def _rows(facility, inmate, numbers, count, prefix):
    return [
        f"{prefix}-{n},{facility.code},{inmate.inmate_number},{numbers[n % len(numbers)]},2026-01-05T14:00:00-05:00,"
        f"{30 + n % 600},normal"
        for n in range(count)
    ]


def test_import_is_set_based_statements_grow_with_batches_not_rows(tmp_path, facility, inmate, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_ROWS", 50)
    accounts = [make_account(balance_cents=100_000) for _ in range(3)]
    numbers = [a.test_number for a in accounts]
    counts = {}
    for count, prefix in ((100, "small"), (400, "large")):
        path = tmp_path / f"{prefix}.csv"
        path.write_text(HEADER + "\n".join(_rows(facility, inmate, numbers, count, prefix)) + "\n", encoding="utf-8")
        out, err = StringIO(), StringIO()
        with CaptureQueriesContext(connection) as captured:
            call_command("import_calls", str(path), stdout=out, stderr=err)
        assert out.getvalue().startswith(f"posted: {count}, duplicate: 0, rejected: 0")
        assert f"{count:,} rows: posted {count:,}" in err.getvalue()  # the progress line
        counts[count] = len(captured)
    # 2 batches, then 8: the statements follow the batches (a fixed handful each), not the rows.
    assert counts[400] <= 4 * counts[100] + 10
    assert counts[100] < 60
    assert CallRecord.objects.count() == 500
    assert ledger.check() == []
    for account in accounts:
        charged = sum(r.charge_cents + r.tax_cents for r in CallRecord.objects.filter(account=account))
        assert balance_of(account) == 100_000 - charged
    # Once per call: the same file again posts nothing.
    assert _run(tmp_path, (tmp_path / "large.csv").read_text()).startswith("posted: 0, duplicate: 400")


def _line(cid, facility, inmate, number, seconds=61) -> str:
    return f"{cid},{facility.code},{inmate.inmate_number},{number},2026-01-05T14:00:00-05:00,{seconds},normal"


def test_import_charges_the_payer_of_the_hold_and_refuses_an_id_used_for_another_call(tmp_path, facility, inmate):
    account = make_account(balance_cents=1000)
    other = make_account(balance_cents=1000)
    authorize(facility, inmate, account.test_number, cid="held")
    authorize(facility, inmate, account.test_number, cid="held-other")
    rows = [
        _line("held", facility, inmate, account.test_number),
        _line("held-other", facility, inmate, other.test_number),
    ]
    out = _run(tmp_path, HEADER + "\n".join(rows) + "\n")
    assert out.splitlines()[0] == "posted: 1, duplicate: 0, rejected: 1"
    assert "line 3: call_id: This call_id was already used for a call with another dialed_number." in out
    assert Hold.objects.get(call_id="held").released_at is not None
    assert Hold.objects.get(call_id="held-other").released_at is None
    assert (balance_of(account), balance_of(other)) == (1000 - 45, 1000)
    assert ledger.check() == []


def test_an_import_releases_a_hold_placed_after_it_looked_for_holds(tmp_path, facility, inmate, monkeypatch):
    """An authorization of an imported call commits after the import read the holds: the import,
    under the call ids' locks, releases it all the same."""
    account = make_account(balance_cents=1000)
    real = importing.ledger.post_batch

    def authorize_first(**kw):
        authorize(facility, inmate, account.test_number, cid="late-import")
        return real(**kw)

    monkeypatch.setattr(importing.ledger, "post_batch", authorize_first)
    out = _run(tmp_path, HEADER + _line("late-import", facility, inmate, account.test_number) + "\n")
    assert out.splitlines()[0] == "posted: 1, duplicate: 0, rejected: 0"
    assert Hold.objects.get(call_id="late-import").released_at is not None


def test_a_repeat_after_the_facility_closed_is_a_duplicate_and_a_new_call_there_is_refused(tmp_path, facility, inmate):
    account = make_account(balance_cents=1000)
    complete(facility, inmate, account.test_number, seconds=60, cid="before-close")
    facility.is_active = False
    facility.save(update_fields=["is_active"])
    facility_cache_clear(codes=[facility.code])
    rows = [
        _line("before-close", facility, inmate, account.test_number, seconds=60),
        _line("after-close", facility, inmate, account.test_number, seconds=60),
    ]
    out = _run(tmp_path, HEADER + "\n".join(rows) + "\n")
    assert out.splitlines()[0] == "posted: 0, duplicate: 1, rejected: 1"
    assert "line 3: facility: No facility has this code." in out
