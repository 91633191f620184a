#!/usr/bin/env bash
# Proof that Gate 0 blocks: walks shadow -> enforce -> rollback against a RUNNING instance and checks
# every step hard. Ends with "SUMMARY: PASS" (exit 0) or "SUMMARY: FAIL (step N: what)" (exit 1).
# Always leaves the mode in shadow and removes the keys it wrote.
#
#   P28_URL    service base URL            (default http://127.0.0.1:8049)
#   P28_TOKEN  an operator token            (required; `npm run token -- --name proof --role operator`)
#   REDIS_URL  the service's Redis          (default redis://127.0.0.1:6379/0)
#   PROOF_SYMBOL      symbol used           (default P28PROOFUSDT; must have no real position)
#   PROOF_WAIT_SEC    how long to wait for the engine to write the budget (default 40)
#
# The service must run with P28_TEST_MODE=1 (the proof injects the portfolio state through
# POST /test/inject_portfolio_state). Needs bash, curl, redis-cli and node.
set -uo pipefail

P28_URL=${P28_URL:-http://127.0.0.1:8049}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
SYMBOL=${PROOF_SYMBOL:-P28PROOFUSDT}
WAIT_SEC=${PROOF_WAIT_SEC:-40}
STEP=0
WHAT="setup"

say() { printf '[proof] %s\n' "$*"; }
fail() {
  say "FAILED: $*"
  printf 'SUMMARY: FAIL (step %s: %s)\n' "$STEP" "$*"
  exit 1
}
step() {
  STEP=$((STEP + 1))
  WHAT="$*"
  say "step $STEP: $*"
}

# json FIELD: reads JSON on stdin, prints the field (dot path) or empty
json() {
  node -e '
    let s = "";
    process.stdin.on("data", (d) => (s += d)).on("end", () => {
      try {
        let v = JSON.parse(s);
        for (const k of process.argv[1].split(".")) v = v == null ? undefined : v[k];
        process.stdout.write(v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
      } catch { process.stdout.write(""); }
    });' "$1"
}

rcli() { redis-cli -u "$REDIS_URL" --no-auth-warning "$@"; }

# api METHOD PATH [BODY] -> sets HTTP_STATUS and HTTP_BODY
api() {
  local method=$1 path=$2 body=${3:-}
  local out
  if [ -n "$body" ]; then
    out=$(curl -sS -m 10 -X "$method" -H "Authorization: Bearer $P28_TOKEN" -H 'Content-Type: application/json' \
      --data "$body" -w '\n%{http_code}' "$P28_URL$path" 2>&1) || { HTTP_STATUS=000; HTTP_BODY=$out; return 0; }
  else
    out=$(curl -sS -m 10 -X "$method" -H "Authorization: Bearer $P28_TOKEN" -w '\n%{http_code}' "$P28_URL$path" 2>&1) ||
      { HTTP_STATUS=000; HTTP_BODY=$out; return 0; }
  fi
  HTTP_STATUS=${out##*$'\n'}
  HTTP_BODY=${out%$'\n'*}
}

block_count() {
  curl -sS -m 10 "$P28_URL/metrics" |
    awk -v s="$SYMBOL" '$1 ~ "^quantum_govern_block_total\\{" && index($1, "symbol=\"" s "\"") && index($1, "reason=\"p28_budget_violation\"") { n += $2 } END { print n + 0 }'
}

evaluate() {
  api POST /governor/evaluate "{\"plan_id\":\"proof-$1-$$\",\"symbol\":\"$SYMBOL\",\"side\":\"BUY\",\"qty\":1}"
  [ "$HTTP_STATUS" = 200 ] || fail "evaluate answered HTTP $HTTP_STATUS: $HTTP_BODY"
  DECISION=$(printf '%s' "$HTTP_BODY" | json decision)
  REASON=$(printf '%s' "$HTTP_BODY" | json reason)
  say "evaluate -> $DECISION ($REASON)"
}

cleanup() {
  local code=$?
  trap - EXIT INT TERM
  # never leave the system in enforce because of the proof
  local mode
  mode=$(curl -sS -m 10 -H "Authorization: Bearer $P28_TOKEN" "$P28_URL/ops/mode" | json mode)
  if [ "$mode" != "shadow" ]; then
    say "cleanup: mode is '${mode:-unknown}', rolling back to shadow"
    curl -sS -m 10 -X POST -H "Authorization: Bearer $P28_TOKEN" -H 'Content-Type: application/json' \
      --data '{"reason":"proof-enforce-block.sh cleanup"}' "$P28_URL/ops/rollback" >/dev/null || true
  fi
  rcli DEL "quantum:state:positions:$SYMBOL" "quantum:portfolio:budget:$SYMBOL" \
    "quantum:portfolio:violation:$SYMBOL" >/dev/null 2>&1 || true
  say "cleanup: mode left in shadow, proof keys removed"
  exit "$code"
}

[ -n "${P28_TOKEN:-}" ] || { STEP=0; fail "P28_TOKEN (an operator token) is not set"; }
for tool in curl redis-cli node; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done
trap cleanup EXIT
trap 'exit 130' INT TERM

step "service is up"
api GET /health
[ "$HTTP_STATUS" = 200 ] || fail "GET /health answered $HTTP_STATUS: $HTTP_BODY"
rcli PING | grep -q PONG || fail "redis-cli cannot reach $REDIS_URL"

step "start from shadow"
api POST /ops/rollback '{"reason":"proof-enforce-block.sh: start from shadow"}'
[ "$HTTP_STATUS" = 200 ] || [ "$HTTP_STATUS" = 201 ] || fail "rollback answered $HTTP_STATUS: $HTTP_BODY"
api GET /ops/mode
[ "$(printf '%s' "$HTTP_BODY" | json mode)" = shadow ] || fail "mode is not shadow: $HTTP_BODY"

step "inject the portfolio state (equity 100000)"
api POST '/test/inject_portfolio_state?equity_usd=100000&drawdown=0.01'
[ "$HTTP_STATUS" = 200 ] || [ "$HTTP_STATUS" = 201 ] || fail "inject answered $HTTP_STATUS (is P28_TEST_MODE=1?): $HTTP_BODY"

step "create an over-budget position ($SYMBOL: 10 x 5000 = 50000 USD notional)"
rcli HSET "quantum:state:positions:$SYMBOL" symbol "$SYMBOL" position_amt 10 side LONG mark_price 5000 \
  timestamp "$(date +%s)" >/dev/null || fail "cannot write the position"

step "wait for the engine to write the budget and the violation"
deadline=$(($(date +%s) + WAIT_SEC))
until [ "$(rcli EXISTS "quantum:portfolio:budget:$SYMBOL")" = 1 ] && [ "$(rcli EXISTS "quantum:portfolio:violation:$SYMBOL")" = 1 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "no budget/violation for $SYMBOL within ${WAIT_SEC}s"
  sleep 0.5
done
budget=$(rcli HGET "quantum:portfolio:budget:$SYMBOL" budget_usd)
say "budget_usd=$budget, violation present"

step "shadow: the gate ALLOWs and records a would-block"
evaluate shadow
[ "$DECISION" = ALLOW ] || fail "shadow mode answered $DECISION"
[ "$REASON" = shadow_mode ] || fail "shadow allow reason is '$REASON', expected shadow_mode"
api GET "/ops/shadow-report?since=$(($(date +%s) - 300))"
[ "$HTTP_STATUS" = 200 ] || fail "shadow-report answered $HTTP_STATUS"
count=$(printf '%s' "$HTTP_BODY" | node -e '
  let s=""; process.stdin.on("data",d=>s+=d).on("end",()=>{ const r=JSON.parse(s);
  const row=(r.symbols||{})[process.argv[1]];
  process.stdout.write(String(row ? row.count : 0)); });' "$SYMBOL")
[ "${count:-0}" -ge 1 ] || fail "shadow report has no would-block for $SYMBOL: $HTTP_BODY"

step "enforce: the gate BLOCKs with p28_budget_violation and the block counter rises"
before=$(block_count)
api PUT /ops/mode '{"mode":"enforce","reason":"proof-enforce-block.sh","expires_in_sec":300}'
[ "$HTTP_STATUS" = 200 ] || fail "PUT /ops/mode enforce answered $HTTP_STATUS: $HTTP_BODY"
sleep 1.2 # a mode change reaches every replica within 1 s
evaluate enforce
[ "$DECISION" = BLOCK ] || fail "enforce mode answered $DECISION ($REASON) for an over-budget symbol"
[ "$REASON" = p28_budget_violation ] || fail "block reason is '$REASON', expected p28_budget_violation"
after=$(block_count)
[ "$after" -gt "$before" ] || fail "quantum_govern_block_total did not rise ($before -> $after)"
say "quantum_govern_block_total: $before -> $after"

step "rollback: back to shadow, the gate ALLOWs again"
api POST /ops/rollback '{"reason":"proof-enforce-block.sh: done"}'
[ "$HTTP_STATUS" = 200 ] || [ "$HTTP_STATUS" = 201 ] || fail "rollback answered $HTTP_STATUS: $HTTP_BODY"
sleep 1.2
evaluate rollback
[ "$DECISION" = ALLOW ] || fail "after rollback the gate answered $DECISION"

echo "SUMMARY: PASS"
exit 0
