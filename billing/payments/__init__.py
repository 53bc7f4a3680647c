"""Money in and money back: the fee per channel, card payments (web and phone), payments staff record,
auto-reload, Stripe's webhook and API wrapper, disputes, refunds, Direct Bill and single-call payments.
The lowest of billing's workflow packages: the others build on it."""
