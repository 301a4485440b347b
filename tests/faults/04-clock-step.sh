#!/usr/bin/env bash
# Fault 4: the wall clock is stepped forward by 10 minutes and then back by 10 minutes while `motpd serve`
# (SQLite) answers otp-only logins. The server runs under libfaketime (LD_PRELOAD) with an offset file read on
# every call, so the step happens at run time; the monotonic clock is left alone, as an NTP step leaves it. The
# load tool sends codes for the server's faked time (--clock-offset).
#
# Checks: after the step back, the codes accepted before it (replayed exactly, `replay --from`) and the codes of
# the repeated minutes (sent at the server's time) are all refused, as replays; users who did not log in during
# the skipped minutes are served normally; a lock taken before the step back still holds and ends no later than
# its length plus the step; the server logs a warning and counts `motpd_clock_steps_total` for both steps.
# About 40 s.
source "$(dirname "$0")/lib.sh"
faults_begin clock-step
describe "wall clock stepped +10 min, then -10 min, under serve (libfaketime)" \
  "replays after the step back, fresh users served, lock end bounded, warning and metric per step"

faketime_lib=
for candidate in /usr/lib/*/faketime/libfaketime.so.1; do
  [[ -r "$candidate" ]] && { faketime_lib=$candidate; break; }
done
[[ -n "$faketime_lib" ]] || fail "libfaketime.so.1 not found (Debian package faketime)"

step=600          # the size of both steps, seconds
lock_minutes=2
node=$WORK/node
write_config "$node" "sqlite://$node/motpd.db"
cat >> "$node/motpd.toml" <<TOML
[policy]
lockout_failures = 3
lockout_minutes = $lock_minutes
TOML
auth=$(port "$node" auth)
# load000001-040: logged in before and after the forward step; 041-080: first login after the step back;
# 081: locked before the forward step; 082: locked after it.
provision 82
setup_node "$node"
offset_file=$WORK/faketime
echo "+0" > "$offset_file"
LD_PRELOAD=$faketime_lib FAKETIME_TIMESTAMP_FILE=$offset_file FAKETIME_NO_CACHE=1 DONT_FAKE_MONOTONIC=1 \
  start_serve "$node"

# logins OUT OFFSET FIRST COUNT [ARGS...]: one code per user, for the time OFFSET seconds from now.
logins() {
  local out=$1 offset=$2 first=$3 count=$4
  shift 4
  "$LOAD" run --server "127.0.0.1:$auth" --mode otp-only --users "$count" --first-user "$first" \
    --requests "$count" --concurrency 8 --duration 10s --progress 0 --clock-offset "$offset" "$@" > "$out" 2>&1 ||
    fail "radius_load ($out): $(tail -n 3 "$out")"
}
# expect_counts OUT ACCEPT REJECT: the load tool's outcome counts, no timeout.
expect_counts() {
  local accept reject timeouts
  accept=$(load_field "$1" accept) reject=$(load_field "$1" reject) timeouts=$(load_field "$1" timeouts)
  [[ "$accept $reject $timeouts" == "$2 $3 0" ]] ||
    fail "$1: accept $accept reject $reject timeouts $timeouts, expected accept $2 reject $3"
}
# wrong_codes USER: three wrong codes (the lockout threshold), each refused.
wrong_codes() {
  for _ in 1 2 3; do
    python3 "$REPO/tests/clients/pyrad_login.py" 127.0.0.1 "$auth" "$SECRET" "$1" 000000 reject \
      --dictionary "$REPO/dictionaries" > /dev/null 2>&1 || fail "a wrong code for $1 was not rejected"
  done
}
locked_until() { sql "sqlite://$node/motpd.db" "SELECT COALESCE(locked_until, 0) FROM accounts WHERE id = '$1'"; }
# set_offset SECONDS: steps the server's wall clock; waits for its warning (the watch reads every 2 s).
set_offset() {
  local before
  before=$(grep -c "the system clock" "$node/serve.log" || true)
  printf '%+d\n' "$1" > "$offset_file"
  for _ in $(seq 1 50); do
    (($(grep -c "the system clock" "$node/serve.log" || true) > before)) && return 0
    sleep 0.2
  done
  fail "no warning within 10 s of stepping the clock to $1 s"
}

# Before: the true time.
logins "$WORK/a.out" 0 1 40 --accepted-log "$WORK/a.jsonl"
expect_counts "$WORK/a.out" 40 0
wrong_codes load000081
lock81=$(locked_until load000081)
logins "$WORK/a81.out" 0 81 1
expect_counts "$WORK/a81.out" 0 1
ok "before the steps: 40 logins accepted; load000081 locked until $lock81 ($((lock81 - $(date +%s))) s from now)"

# Forward 10 minutes.
set_offset "$step"
grep -q "the system clock jumped forward" "$node/serve.log" || fail "no forward warning"
logins "$WORK/b.out" "$step" 1 40 --accepted-log "$WORK/b.jsonl"
expect_counts "$WORK/b.out" 40 0
# load000081's lock ended at its wall-clock time, which the step passed.
logins "$WORK/b81.out" "$step" 81 1
expect_counts "$WORK/b81.out" 1 0
wrong_codes load000082
lock82=$(locked_until load000082)
((lock82 >= $(date +%s) + step)) || fail "load000082's lock ($lock82) is not in the stepped time"
ok "after +$step s: warning logged, 40 logins accepted at the new time, load000081's lock over, load000082 locked"

# Back 10 minutes: the steps of the last 10 minutes come round again.
set_offset 0
grep -q "the system clock went backward" "$node/serve.log" || fail "no backward warning"
"$LOAD" replay --server "127.0.0.1:$auth" --mode otp-only --from "$WORK/b.jsonl" > "$WORK/replay-b.out" 2>&1 ||
  fail "codes accepted before the step back were accepted again: $(tail -n 2 "$WORK/replay-b.out")"
"$LOAD" replay --server "127.0.0.1:$auth" --mode otp-only --from "$WORK/a.jsonl" > "$WORK/replay-a.out" 2>&1 ||
  fail "codes accepted before the forward step were accepted again: $(tail -n 2 "$WORK/replay-a.out")"
replayed=$(($(load_field "$WORK/replay-a.out" reject) + $(load_field "$WORK/replay-b.out" reject)))
((replayed == 80)) || fail "replays: $replayed of 80 rejected"
# The codes of the server's time now: steps before each device's last accepted one.
logins "$WORK/c.out" 0 1 40
expect_counts "$WORK/c.out" 0 40
logins "$WORK/c-fresh.out" 0 41 40
expect_counts "$WORK/c-fresh.out" 40 0
# The codes of the repeated minutes are refused as replays (not as wrong codes): their steps are within the
# drift window of the clock now and before each device's last step. So are the resent codes of before the
# forward step while the clock is still within a step of them (80 in all); the resent codes of the skipped
# minutes are outside the window.
replays=$(grep -c 'reason="replayed"' "$node/serve.log" || true)
((replays >= 40)) || fail "$replays decisions refused as replayed, expected at least the 40 of the repeated minutes"
ok "after -$step s: warning logged, 80 accepted codes replayed and 40 codes of the repeated minutes all refused ($replays as replays); 40 other users accepted"

logins "$WORK/c82.out" 0 82 1
expect_counts "$WORK/c82.out" 0 1
left=$((lock82 - $(date +%s)))
limit=$((lock_minutes * 60 + step))
((left <= limit)) || fail "load000082 stays locked $left s, more than the lock plus the step ($limit s)"
ok "load000082 still locked, for $left s: at most the lock ($((lock_minutes * 60)) s) plus the step back"

for direction in forward backward; do
  count=$(metric "$node" motpd_clock_steps_total "direction=\"$direction\"")
  [[ "$count" == 1 ]] || fail "motpd_clock_steps_total{direction=\"$direction\"} = $count, expected 1"
done
ok "motpd_clock_steps_total: forward 1, backward 1"
if grep -E ' (ERROR) ' "$node/serve.log"; then fail "error lines in the server log"; fi
result "resent accepted codes 80/80 and repeated-minute codes 40/40 refused ($replays as replays); 40 fresh users accepted; lock left ${left} s <= ${limit} s; 2 warnings, metric 1+1"
