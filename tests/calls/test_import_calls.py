from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing import ledger
from calls.models import CallRecord, CallSource
from tests.helpers import balance_of, complete, make_account

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
