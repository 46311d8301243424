#!/usr/bin/env bash
# Contract fuzzing: schemathesis generates requests from api/openapi.json and
# sends them to `npm run dev`; it fails on any 5xx, any answer the document does
# not describe (status, content type, schema) and any envelope violation.
#
# It stays signed in: scripts/fuzz_hooks.py gives every authenticated call a
# fresh session through the real endpoints (send-otp-email, the code from the dev
# console, verify-otp-email), and the stateful phase follows the document's
# links (login -> refresh, profile, logout, deletion). Afterwards the statuses
# per operation are printed, and the run fails if any bearer operation answered
# 401/403 to most of its calls that carried a token.
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
port="$(node harness/ports.mjs)"
base="http://127.0.0.1:$port"
cleanup() {
  kill -- -"$dev_pid" 2>/dev/null || true
  [ -n "${FUZZ_API_KEEP_LOG:-}" ] && cp "$state/dev.log" "$FUZZ_API_KEEP_LOG"
  rm -rf "$state"
}
trap cleanup EXIT
# The log provider prints each code to the dev console, where the hooks read it.
PORT=$port DEV_PERSIST_TO="$state" setsid bash scripts/dev.sh \
  --var EMAIL_PROVIDER:log --var OTP_RESEND_COOLDOWN_SECONDS:0 --var OTP_SENDS_PER_HOUR:100000 \
  > "$state/dev.log" 2>&1 &
dev_pid=$!
for _ in $(seq 1 600); do
  curl -fs "$base/health" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fs "$base/health" >/dev/null || { tail -50 "$state/dev.log"; die "wrangler dev did not start"; }

log "schemathesis: $examples examples per operation, at most ${seconds}s, a fresh session per authenticated call"
# positive_data_acceptance is left out: a well-formed request can rightly be
# refused by state (no pending code, a used token, a rate limit).
status=0
FUZZ_API_BASE="$base" FUZZ_API_DEV_LOG="$state/dev.log" FUZZ_API_COUNTS="$state/counts.json" \
  PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=fuzz_hooks \
  timeout "$seconds" schemathesis run api/openapi.json --url "$base" \
  --max-examples "$examples" --seed 20261125 \
  --checks all --exclude-checks positive_data_acceptance \
  --request-timeout 10 --max-failures 20 --no-color >&2 || status=$?

# Statuses per operation: as schemathesis saw them (its calls only) and as the
# worker logged them (one JSON line per request, the hooks' logins included).
python3 - "$state/counts.json" "$state/dev.log" "$ROOT/api/openapi.json" <<'PY' || status=1
import json, re, sys
counts_file, dev_log, spec_file = sys.argv[1:]
spec = json.load(open(spec_file))
bearer = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m, op in ops.items()
          if isinstance(op, dict) and op.get("security")}
try:
    seen = json.load(open(counts_file))
except FileNotFoundError:
    seen = {"operations": {}, "logins": 0}
logged = {}
for line in open(dev_log, errors="replace"):
    if '"event":"request"' not in line:
        continue
    try:
        event = json.loads(line[line.index("{"): line.rindex("}") + 1])
    except ValueError:
        continue
    per = logged.setdefault(f'{event["method"]} {event["path"]}', {})
    per[str(event["status"])] = per.get(str(event["status"]), 0) + 1

def show(s):
    return " ".join(f"{k}:{v}" for k, v in sorted(s.items()))

print(f"\nstatuses per operation: all of schemathesis's calls | those carrying a service-issued token"
      f" | the worker's request log; {seen['logins']} logins by the auth hook", file=sys.stderr)
bad = []
for key in sorted(set(seen["operations"]) | bearer):
    per = seen["operations"].get(key, {"all": {}, "token": {}, "why401": {}})
    # Schemathesis also sends, on purpose, calls with the credentials left out or
    # mangled (negative testing of the security scheme): those must be 401 and
    # are not counted here. Of the calls that carried a token, most must pass.
    total = sum(per["token"].values())
    refused = sum(v for k, v in per["token"].items() if k in ("401", "403"))
    mark = " [bearer]" if key in bearer else ""
    print(f"  {key}{mark}\n      {show(per['all']) or '-'}  |  {show(per['token']) or '-'}  |  "
          f"{show(logged.get(key, {})) or '-'}", file=sys.stderr)
    for why, n in per["why401"].items():
        print(f"      401 with a token ({n}x): {why}", file=sys.stderr)
    if key in bearer and (total == 0 or refused * 2 >= total):
        bad.append(f"{key}: {refused} of {total} calls with a token answered 401/403")
if bad:
    print("bearer operations not exercised past authentication:\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
print("every bearer operation answered something other than 401/403 to most calls with a token", file=sys.stderr)
PY

# Belt and braces: the worker's own request log must show no 5xx either.
if grep '"status":5[0-9][0-9]' "$state/dev.log"; then
  die "the worker answered 5xx during contract fuzzing"
fi
[ "$status" -eq 0 ] || die "contract fuzzing failed (exit $status)"
log "contract fuzzing found nothing"
