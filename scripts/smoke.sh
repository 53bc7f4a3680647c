#!/usr/bin/env bash
# Start what `make run` starts, in the background; fetch the home page and the admin login; authorize
# and complete one call through the platform API; stop all.
set -euo pipefail
PORT=${WEB_PORT:-8000}
export WEB_PORT=$PORT
log=var/smoke.log
.venv/bin/honcho -f Procfile.dev start >"$log" 2>&1 &
pid=$!
cleanup() { kill -INT "$pid" 2>/dev/null || true; sleep 2; kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap cleanup EXIT

status_of() { curl -s -o /dev/null -w '%{http_code}' "$1" || true; }
for _ in $(seq 1 60); do
  [ "$(status_of "http://127.0.0.1:$PORT/")" = "200" ] && break
  sleep 1
done
fail=0
for path in / /admin/login/; do
  code=$(status_of "http://127.0.0.1:$PORT$path")
  echo "GET $path -> $code"
  [ "$code" = "200" ] || fail=1
done
stripe=$(status_of "http://127.0.0.1:8420/js.stripe.com/v3/")
echo "GET localstripe Stripe.js -> $stripe"
[ "$stripe" = "200" ] || fail=1
# The database is make run's own (the embedded server on its Unix socket), unless RUN_DATABASE_URL says otherwise.
db=$(.venv/bin/python manage.py shell -v 0 -c "
from django.db import connection
connection.ensure_connection()
print(connection.settings_dict['HOST'], connection.pg_version)")
echo "Database: $db"
if [ -z "${RUN_DATABASE_URL:-}" ]; then case "$db" in /*) ;; *) echo "not the embedded PostgreSQL"; fail=1 ;; esac; fi
# The platform API on that database: authorize a paid call to the demo family's number,
# then complete it (a token made for the smoke test, revoked afterwards).
read -r token number < <(.venv/bin/python manage.py shell -v 0 -c "
from accounts.models import PhoneNumber
from calls.tokens import platform_token_create
_, raw = platform_token_create(name='smoke test', actor=None)
phone = PhoneNumber.objects.filter(account__holder__email='family@familyline.example', is_active=True).order_by('id').first()
print(raw, phone.number.as_e164)")
call_id="smoke-$(date +%s)-$$"
api() { curl -s -H "Authorization: Bearer $token" -H "Content-Type: application/json" -d "$2" "http://127.0.0.1:$PORT/api/v1/calls/$1"; }
answer=$(api authorize "{\"call_id\": \"$call_id\", \"facility\": \"TX-HCJ\", \"inmate\": \"02241987\", \"dialed_number\": \"$number\"}")
echo "POST /api/v1/calls/authorize -> $answer"
echo "$answer" | grep -q '"decision":"allow"' || fail=1
started=$(date -u -d '-2 minutes' +%Y-%m-%dT%H:%M:%SZ)
done_body="{\"call_id\": \"$call_id\", \"facility\": \"TX-HCJ\", \"inmate\": \"02241987\", \"dialed_number\": \"$number\", \"started_at\": \"$started\", \"duration_seconds\": 61, \"disconnect\": \"normal\"}"
charged=$(api complete "$done_body")
echo "POST /api/v1/calls/complete -> $charged"
echo "$charged" | grep -q '"billable_minutes":2' || fail=1
.venv/bin/python manage.py shell -v 0 -c "
from calls.models import PlatformToken
from calls.tokens import platform_token_revoke
for token in PlatformToken.objects.filter(name='smoke test', revoked_at__isnull=True):
    platform_token_revoke(token=token)"
grep -q "celery@.* ready" "$log" || { sleep 5; grep -q "celery@.* ready" "$log"; } || { echo "Celery worker did not start"; fail=1; }
grep -q "Webhook registered" "$log" || { echo "Stripe webhook was not registered"; fail=1; }
if [ $fail -ne 0 ]; then echo "Smoke test FAILED"; tail -n 60 "$log"; exit 1; fi
echo "Smoke test passed"
