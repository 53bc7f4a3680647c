"""The money kernel: the only code that reads, locks or changes a balance, or places a hold.

A Django app of its own (label `ledger`): its models are the ledger accounts, journal entries,
postings and holds. Callers use its API module: `from billing.ledger import kernel as ledger`, then
`ledger.post(...)`, `ledger.balance_lock(...)`, `ledger.hold_place(...)`… (`kernel.py` lists it).

The lock order (every path that touches an account's money takes its locks in this order, so a
payment, a call, a close, a statement and an adjustment on one account never deadlock):
1. the calling account's ledger row, `balance_lock` (FOR NO KEY UPDATE), before anything else;
2. the calling account row, when its status changes (FOR NO KEY UPDATE, which does not conflict
   with the key-share locks that inserting a hold or call record takes on it);
3. the rows of the cause: payment, refund, statement, application, sponsorship; then the hold or
   call record inserted;
4. the entry and its postings (`post`, which takes step 1 itself if the caller has not).
Decisions that depend on money (funds for a call, what is owed before a payment, closing) are
taken under lock 1.

This package is also the app Django imports before the app registry is ready, so it imports
nothing: the API lives in `kernel.py`, imported by callers once the apps are loaded.
"""
