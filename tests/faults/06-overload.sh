#!/usr/bin/env bash
# Fault 6: overload. `motpd serve` (SQLite, radius.max_in_flight = 8) is offered ten times the peak it showed
# in a short burst, open loop, for 30 s: otp-only logins of 2,000 users taken again and again within each step
# (`--repeat-users`: codes already accepted come back and are refused as replays, evaluated like any login),
# with a probe of fresh users' logins at 10/s beside it.
#
# Checks: the excess is shed and counted (`motpd_radius_packets_dropped_total{reason="shed"}`, and a
# rate-limited warning carrying the running total, at most one per 10 s per source); the process's peak
# resident memory (VmHWM) stays within a fixed bound over its size before; the requests that are answered are
# answered within NetScaler's 3 s (p99); right after, a normal-rate run of fresh users is accepted in full.
# About 60 s.
source "$(dirname "$0")/lib.sh"
faults_begin overload
describe "10x the measured peak of otp-only logins for 30 s, max_in_flight = 8" \
  "shed counted (metric, rate-limited log line with total), VmHWM bounded, answered p99 <= 3 s, normal right after"

node=$WORK/node
write_config "$node" "sqlite://$node/motpd.db" "max_in_flight = 8"
auth=$(port "$node" auth)
provision 3000 # 1-2000: burst and overload; 2001-2400: probe; 2401-3000: the run after
setup_node "$node"
start_serve "$node"
pid=$SERVE_PID
kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

# Peak: a closed-loop burst over 2,000 users, each once (the run stops when they are used in this step), with
# max_in_flight requests outstanding: what the server answers at most.
"$LOAD" run --server "127.0.0.1:$auth" --mode otp-only --users 2000 --concurrency 8 --progress 0 \
  > "$WORK/peak.out" 2>&1 || fail "peak burst: $(tail -n 3 "$WORK/peak.out")"
peak=$(load_field "$WORK/peak.out" rps)
[[ $(load_field "$WORK/peak.out" accept) == 2000 ]] || fail "peak burst: not every login accepted"
rate=$(python3 -c "print(round(10 * $peak))")
rss_before=$(kib "$pid" VmRSS)
ok "peak: $peak logins/s (2000 accepted); offering $rate/s; VmRSS before $((rss_before / 1024)) MiB"

# The overload, sampling VmRSS every second.
run_load "$WORK/overload.out" --server "127.0.0.1:$auth" --mode otp-only --users 2000 --repeat-users \
  --rate "$rate" --concurrency 4096 --duration 30s --timeout 3s --progress 10s \
  --probe otp-only --probe-rate 10 --probe-first-user 2001 --probe-users 400
rss_max=0
while kill -0 "$LOAD_PID" 2>/dev/null; do
  rss=$(kib "$pid" VmRSS) && ((rss > rss_max)) && rss_max=$rss
  sleep 1
done
wait "$LOAD_PID" || fail "radius_load exited $?: $(tail -n 3 "$WORK/overload.out")"
ended=$(now)

# Right after: a normal rate (a tenth of the peak) of fresh users, all accepted.
normal=$(python3 -c "print(max(5, round($peak / 10)))")
"$LOAD" run --server "127.0.0.1:$auth" --mode otp-only --users 600 --first-user 2401 --rate "$normal" \
  --concurrency 64 --duration 5s --timeout 3s --progress 0 > "$WORK/after.out" 2>&1 ||
  fail "run after: $(tail -n 3 "$WORK/after.out")"
after_start=$(since "$ended")
hwm=$(kib "$pid" VmHWM)

sent=$(load_field "$WORK/overload.out" sent)
seconds=$(load_field "$WORK/overload.out" seconds)
answered=$(($(load_field "$WORK/overload.out" accept) + $(load_field "$WORK/overload.out" reject)))
p99=$(load_field "$WORK/overload.out" p99_ms)
probe_sent=$(load_field "$WORK/overload.out" probes.0.sent)
probe_accept=$(load_field "$WORK/overload.out" probes.0.accept)
probe_p99=$(load_field "$WORK/overload.out" probes.0.p99_ms)
shed=$(metric "$node" motpd_radius_packets_dropped_total 'reason="shed"')
lines=$(grep -c "request shed: radius.max_in_flight" "$node/serve.log" || true)
logged_total=$(grep "request shed: radius.max_in_flight" "$node/serve.log" | tail -n 1 |
  sed -n 's/.*shed_total=\([0-9]*\).*/\1/p')
offered=$(python3 -c "print(round($sent / $seconds))")
goodput=$(python3 -c "print(round($answered / $seconds))")
note "overload: sent $sent in $seconds s ($offered/s offered of $rate/s asked), answered $answered ($goodput/s)," \
  "p99 $p99 ms; shed $shed;" \
  "probe: $probe_accept of $probe_sent accepted, p99 $probe_p99 ms; VmRSS max $((rss_max / 1024)) MiB," \
  "VmHWM $((hwm / 1024)) MiB"

# The load tool shares the two cores with the server and reaches less than ten times the peak; it is an
# overload when a good part of what it sends must be shed.
((shed * 10 >= sent)) || fail "only $shed of $sent requests shed: the offered load ($offered/s) was no overload"
((lines >= 1 && lines <= 30 / 10 + 2)) || fail "$lines shed warnings in 30 s (one per 10 s per source expected)"
[[ -n "$logged_total" ]] && ((logged_total > 0 && logged_total <= shed)) ||
  fail "the last shed warning's total ($logged_total) does not agree with the metric ($shed)"
ok "excess shed: $shed of $sent requests, $lines warnings (the last says shed_total=$logged_total)"
python3 -c "import sys; sys.exit(0 if float('$p99') <= 3000 and float('$probe_p99') <= 3000 else 1)" ||
  fail "answered p99 $p99 ms (probe $probe_p99 ms) beyond 3 s"
ok "answered requests: p99 $p99 ms, the fresh logins' probe p99 $probe_p99 ms (NetScaler waits 3 s)"
# The bound: 8 requests in flight, the duplicate cache (at most 65,536 replies of a few hundred bytes) and the
# account cache (4,096 entries of about 1 KiB) are what load can add to a process of this size: 96 MiB covers
# them with room; a queue growing with the offered load would pass it within seconds at this rate.
((hwm <= rss_before + 96 * 1024)) || fail "VmHWM $((hwm / 1024)) MiB, more than 96 MiB over $((rss_before / 1024)) MiB"
ok "memory bounded: VmHWM $((hwm / 1024)) MiB (before: VmRSS $((rss_before / 1024)) MiB)"
after_accept=$(load_field "$WORK/after.out" accept)
after_sent=$(load_field "$WORK/after.out" sent)
after_p99=$(load_field "$WORK/after.out" p99_ms)
((after_sent > 0 && after_accept == after_sent)) ||
  fail "after the overload: $after_accept of $after_sent accepted (timeouts $(load_field "$WORK/after.out" timeouts))"
ok "normal service right after: $after_accept/$after_sent accepted at $normal/s, p99 $after_p99 ms"
result "peak $peak/s; offered $offered/s for 30 s (asked $rate/s): answered $goodput/s, shed $shed (metric, $lines log lines), answered p99 $p99 ms, probe $probe_accept/$probe_sent p99 $probe_p99 ms; VmHWM $((hwm / 1024)) MiB (before $((rss_before / 1024)) MiB); after: $after_accept/$after_sent accepted"
