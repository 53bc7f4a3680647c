#!/usr/bin/env bash
# Start what `make run` starts, in the background; fetch the home page and the admin login; stop all.
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
grep -q "celery@.* ready" "$log" || { sleep 5; grep -q "celery@.* ready" "$log"; } || { echo "Celery worker did not start"; fail=1; }
grep -q "Webhook registered" "$log" || { echo "Stripe webhook was not registered"; fail=1; }
if [ $fail -ne 0 ]; then echo "Smoke test FAILED"; tail -n 60 "$log"; exit 1; fi
echo "Smoke test passed"
