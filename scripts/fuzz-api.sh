#!/usr/bin/env bash
# Contract fuzzing: schemathesis generates requests from api/openapi.json and
# sends them to `npm run dev`; it fails on any 5xx, any answer the document does
# not describe (status, content type, schema) and any envelope violation.
# Bounded: FUZZ_API_EXAMPLES per operation, FUZZ_API_SECONDS overall.
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
cd "$ROOT"
SCHEMATHESIS_VERSION=4.32.5
examples="${FUZZ_API_EXAMPLES:-25}"
seconds="${FUZZ_API_SECONDS:-300}"

if ! schemathesis --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION from PyPI"
  python3 -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >&2
fi

state="$(mktemp -d)"
port=$((20000 + RANDOM % 10000))
base="http://127.0.0.1:$port"
cleanup() { kill -- -"$dev_pid" 2>/dev/null || true; rm -rf "$state"; }
trap cleanup EXIT
# The log provider prints each code to the dev console, where this script reads it.
PORT=$port DEV_PERSIST_TO="$state" setsid bash scripts/dev.sh \
  --var EMAIL_PROVIDER:log --var OTP_RESEND_COOLDOWN_SECONDS:0 --var OTP_SENDS_PER_HOUR:100000 \
  > "$state/dev.log" 2>&1 &
dev_pid=$!
for _ in $(seq 1 600); do
  curl -fs "$base/health" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fs "$base/health" >/dev/null || { tail -50 "$state/dev.log"; die "wrangler dev did not start"; }

# A signed-in user, so the authenticated operations are fuzzed past the 401.
curl -fs "$base/api/v1/auth/send-otp-email" -H 'content-type: application/json' \
  -d '{"email":"contract-fuzz@example.com"}' >/dev/null
sleep 1
code="$(grep -o 'code is:\\n\\n[0-9]*' "$state/dev.log" | tail -1 | grep -o '[0-9]*$')"
token="$(curl -fs "$base/api/v1/auth/verify-otp-email" -H 'content-type: application/json' \
  -d "{\"email\":\"contract-fuzz@example.com\",\"code\":\"$code\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])')"

log "schemathesis: $examples examples per operation, at most ${seconds}s"
# positive_data_acceptance is left out: a well-formed request can rightly be
# refused by state (no pending code, a used token, a rate limit).
timeout "$seconds" schemathesis run api/openapi.json --url "$base" \
  --max-examples "$examples" --seed 20261125 \
  --checks all --exclude-checks positive_data_acceptance \
  --header "Authorization: Bearer $token" \
  --request-timeout 10 --max-failures 20 --no-color >&2
# Belt and braces: the worker's own request log must show no 5xx either.
if grep '"status":5[0-9][0-9]' "$state/dev.log"; then
  die "the worker answered 5xx during contract fuzzing"
fi
log "contract fuzzing found nothing"
