"""On a 390 px phone, the call history and the sponsor's tables read as stacked rows ("label: value"),
in English and Spanish, and no word or amount is split across two lines ("Wh/at", "$1./25")."""

import datetime

import pytest
from django.test import Client

from accounts.models import Language
from billing.payments.models import Channel, Payment, PaymentMethod, PaymentStatus
from billing.statements import call_credits
from calls.models import CallRecord
from calls.sponsorships import sponsorship_start
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory, UserFactory
from tests.helpers import ARTIFACTS, authorize, complete, make_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}

# Words (and amounts) of every table cell that the browser split over two lines, label included.
# A cell's label is drawn by CSS (`td::before`), which no script can measure: the probe puts the
# same text in a real element styled exactly like that label, hides the pseudo-element, measures
# each word's boxes (a word on one line has one box) and removes the probes again.
SPLIT_WORDS_JS = """
() => {
  const style = document.createElement('style');
  style.textContent = 'td[data-label]::before { content: none !important; }';
  const probes = [];
  document.querySelectorAll('table td[data-label]').forEach((td) => {
    const label = getComputedStyle(td, '::before');
    if (label.content === 'none' || label.display === 'none') return;
    const probe = document.createElement('span');
    probe.textContent = td.dataset.label;
    for (const name of label) probe.style.setProperty(name, label.getPropertyValue(name));
    probe.style.setProperty('content', 'normal');
    td.insertBefore(probe, td.firstChild);
    probes.push(probe);
  });
  document.head.appendChild(style);
  const split = [];
  let cells = 0;
  document.querySelectorAll('table td').forEach((td) => {
    if (!td.getClientRects().length) return;  // not shown
    cells += 1;
    const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      // A word, or a part of a hyphenated name ("Hernández-" "Villanueva"): printed text may break a
      // compound name after its hyphen, never inside a word or an amount ("-$1.25" is one part).
      for (const match of node.data.matchAll(/\\S+?(?:(?<=\\p{L}-)(?=\\p{L})|(?=\\s)|$)/gu)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (lines.size > 1) split.push(match[0] + ' in ' + (td.dataset.label || td.textContent.trim().slice(0, 40)));
      }
    }
  });
  probes.forEach((probe) => probe.remove());
  style.remove();
  return {split, cells};
}
"""

# Each shown row of these tables is a block of "label: value" lines, not a table row.
STACKED_JS = """
(selector) => [...document.querySelectorAll(selector + ' tbody tr')].map((tr) => ({
  display: getComputedStyle(tr).display,
  labelled: [...tr.querySelectorAll('td')].filter((td) => td.getClientRects().length)
    .every((td) => td.dataset.label && getComputedStyle(td, '::before').content.includes(td.dataset.label)),
  width: tr.getBoundingClientRect().width,
}))
"""


@pytest.fixture
def sponsor(transactional_db):
    """A sponsor whose history has calls with long names and $1.25-like amounts, a payment and a
    call credit, and who paid for calls to another family's number."""
    facility = FacilityFactory(name="Northern Correctional Institution at Somers", time_zone="America/New_York")
    RatePlanFactory(facility=facility, rate_per_minute="0.25", tax_rate="0", effective_from_date="2020-01-01")
    inmate = InmateFactory(facility=facility, first_name="Maximiliano", last_name="Hernández-Villanueva")
    holder = UserFactory()
    account = make_account(holder=holder, balance_cents=4500)
    sponsorship_start(
        account=account, facility=facility, inmate_number=inmate.inmate_number, actor=holder, confirmed=True
    )
    other = make_account(number="+17135550302")
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)
    for seconds in (300, 245, 61):
        complete(
            facility,
            inmate,
            other.test_number,
            seconds=seconds,
            cid=authorize(facility, inmate, other.test_number).call_id,
            started_at=started,
        )
        started += datetime.timedelta(hours=3)
    complete(facility, inmate, account.test_number, seconds=1800, started_at=started)
    Payment.objects.create(
        account=account,
        channel=Channel.WEB,
        method=PaymentMethod.CARD,
        amount_cents=2500,
        fee_cents=300,
        status=PaymentStatus.FAILED,
        failure_message="Your card was declined.",
    )
    call = CallRecord.objects.filter(account=account).order_by("started_at").first()
    credit = call_credits.call_credit_request(call=call, holder=holder, reason="dropped")
    call_credits.call_credit_approve(credit=credit, actor=UserFactory(is_staff=True))
    return account


@pytest.mark.parametrize("language", [Language.ENGLISH, Language.SPANISH])
def test_history_and_sponsor_tables_stack_on_a_phone_without_splitting_a_word(chromium, live_server, sponsor, language):
    holder = sponsor.holder
    holder.preferred_language = language
    holder.save(update_fields=["preferred_language"])
    client = Client()
    client.force_login(holder)
    context = chromium.new_context(viewport=PHONE)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    tab = context.new_page()
    try:
        pages = {
            "history": (f"/calls/accounts/{sponsor.pk}/history/", "#history"),
            "sponsorships": (f"/calls/accounts/{sponsor.pk}/sponsorships/", "#paid-calls"),
        }
        for name, (path, table) in pages.items():
            tab.goto(live_server.url + path)
            tab.screenshot(path=str(ARTIFACTS / f"phone-{name}-{language}.png"), full_page=True)
            rows = tab.evaluate(STACKED_JS, table)
            assert len(rows) >= 3, (name, rows)
            for row in rows:
                assert row["display"] == "block" and row["labelled"], (name, row)
                assert row["width"] <= PHONE["width"], (name, row)
            measured = tab.evaluate(SPLIT_WORDS_JS)
            assert measured["cells"] >= 3 * len(rows), name
            assert measured["split"] == [], (name, language, measured["split"])
            assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
    finally:
        context.close()
