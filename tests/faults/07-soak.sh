#!/usr/bin/env bash
# Fault 7: soak. `motpd serve` (SQLite) answers otp-only logins at half of the peak it showed in a short burst,
# open loop, for SOAK_SECONDS (default 180, as in CI; SOAK_SECONDS=3600 for the hour on demand). Every 5 s the
# process's resident memory (VmRSS) and open file descriptors (/proc/PID/fd) are sampled.
#
# Checks: both are flat: the largest sample of the last third is at most the largest of the first third × 1.2
# plus a constant (4 MiB; 4 descriptors). The first third absorbs the warm-up (caches filling, the allocator's
# arenas, the pool's connections opening); a leak of even 1 KiB per login would add 100+ MiB within the default
# run at this rate and fail the check. The load tool saw no timeout and no bad reply, every login was answered,
# and the server's log has no WARN or ERROR line. SOAK_SECONDS + about 20 s.
source "$(dirname "$0")/lib.sh"
faults_begin soak
seconds=${SOAK_SECONDS:-180}
[[ "$seconds" =~ ^[0-9]+$ ]] && ((seconds >= 30)) || fail "SOAK_SECONDS must be a whole number >= 30"
describe "soak at half the measured peak for $seconds s" \
  "VmRSS and open fds flat (last third max <= first third max x 1.2 + const), every login answered, no WARN/ERROR"

node=$WORK/node
write_config "$node" "sqlite://$node/motpd.db"
auth=$(port "$node" auth)
users=12000 # the soak's; load012001-014000 measure the peak first
provision $((users + 2000))
setup_node "$node"
start_serve "$node"
pid=$SERVE_PID
kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

"$LOAD" run --server "127.0.0.1:$auth" --mode otp-only --users 2000 --first-user $((users + 1)) \
  --concurrency 64 --progress 0 \
  > "$WORK/peak.out" 2>&1 || fail "peak burst: $(tail -n 3 "$WORK/peak.out")"
peak=$(load_field "$WORK/peak.out" rps)
# Half the peak, each user once per step while there are enough of them (--sustained); beyond users / 30 s per
# second the codes would repeat, so the rate is capped there.
rate=$(python3 -c "print(max(1, min(round($peak / 2), $users // 30)))")
ok "peak: $peak logins/s; soaking at $rate/s for $seconds s"

run_load "$WORK/soak.out" --server "127.0.0.1:$auth" --mode otp-only --users "$users" --sustained --scattered \
  --rate "$rate" --concurrency 256 --duration "${seconds}s" --timeout 3s --progress 30s
log_from=$(($(wc -l < "$node/serve.log") + 1))
samples=$WORK/samples.tsv
: > "$samples"
# time, VmRSS, open fds, and for the record RssAnon and RssFile (KiB)
while kill -0 "$LOAD_PID" 2>/dev/null; do
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date +%s)" "$(kib "$pid" VmRSS)" "$(fds "$pid")" "$(kib "$pid" RssAnon)" \
    "$(kib "$pid" RssFile)" >> "$samples"
  sleep 5
done
wait "$LOAD_PID" || fail "radius_load exited $?: $(tail -n 3 "$WORK/soak.out")"

sent=$(load_field "$WORK/soak.out" sent)
accept=$(load_field "$WORK/soak.out" accept)
timeouts=$(load_field "$WORK/soak.out" timeouts)
bad=$(load_field "$WORK/soak.out" bad)
p99=$(load_field "$WORK/soak.out" p99_ms)
# A code equal to the user's code of the step before is refused as a replay by design (about 1 in 10^6 logins;
# radius_load counts them): every other login must be accepted.
collisions=$(load_field "$WORK/soak.out" code_collisions)
((sent > 0 && accept + collisions == sent && timeouts == 0 && bad == 0)) ||
  fail "sent $sent, accepted $accept, code collisions $collisions, timeouts $timeouts, bad $bad"
ok "$sent logins, all accepted but $collisions code collision(s), p99 $p99 ms"

verdict=$(python3 - "$samples" <<'PY'
import sys
rows = [tuple(int(x or 0) for x in line.split("\t")) for line in open(sys.argv[1]) if line.strip()]
if len(rows) < 6:
    print(f"FAIL only {len(rows)} samples")
    sys.exit()
third = len(rows) // 3
first, last = rows[:third], rows[-third:]
out = []
bad = False
for name, col, const, unit in (("VmRSS", 1, 4096, "KiB"), ("fds", 2, 4, "")):
    a, b = max(r[col] for r in first), max(r[col] for r in last)
    limit = a * 1.2 + const
    # Least-squares slope over the whole run, per hour, for the record.
    n = len(rows)
    mt = sum(r[0] for r in rows) / n
    mv = sum(r[col] for r in rows) / n
    den = sum((r[0] - mt) ** 2 for r in rows) or 1
    slope = sum((r[0] - mt) * (r[col] - mv) for r in rows) / den * 3600
    scale = 1024 if unit else 1
    u = " MiB" if unit else ""
    out.append(f"{name} first-third max {a / scale:.1f}{u}, last-third max {b / scale:.1f}{u} "
               f"(limit {limit / scale:.1f}{u}), slope {slope / scale:+.1f}{u}/h")
    bad |= b > limit
print(("FAIL " if bad else "OK ") + f"{len(rows)} samples: " + "; ".join(out))
PY
)
[[ "$verdict" == OK* ]] || fail "${verdict#FAIL }"
ok "${verdict#OK }"
# From the soak's start: the start-up lines may warn about this machine (an unsynchronised clock in a container).
if tail -n "+$log_from" "$node/serve.log" | grep -E '\b(WARN|ERROR)\b'; then
  fail "WARN or ERROR lines in the server log during the soak"
fi
ok "no WARN or ERROR line in the server log during the soak"
result "$seconds s at $rate/s (peak $peak/s): $accept/$sent accepted, p99 $p99 ms; ${verdict#OK }; no WARN/ERROR"
