"""Texts and voice codes to phone numbers: the sending backends, holders' consent, alerts by text,
STOP/START/HELP, delivery statuses, and the proof that someone holds a number (a code sent to it)."""
