"""Closing an account: the activity that keeps it open, closing it (by the holder, staff or for
inactivity) with its balance refunded, and charges reported after it closed."""
