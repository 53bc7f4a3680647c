"""What an account's record shows: Direct Bill statements (periods, the monthly run, standing, PDF,
dunning), the account's history of calls, payments, credits and refunds, and the corrections staff
make to it (adjustments, call credits)."""
