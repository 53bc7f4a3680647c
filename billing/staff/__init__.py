"""The staff's tools over every workflow: the work queue, the monthly report and reconciliation with
Stripe. The top of billing's workflow packages: nothing else imports it."""
