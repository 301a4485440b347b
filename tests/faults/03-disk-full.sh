#!/usr/bin/env bash
# Fault 03: the SQLite volume fills up while `motpd serve` answers otp-only logins (20/s, radius_load
# --sustained). The database lives on a small tmpfs mounted for the case; after 6 s a filler file takes every
# free byte, after another ~12 s it is removed. Checks:
#   - while the volume is full, logins fail closed: no Access-Accept is answered whose step and audit row
#     could not be stored (every Accept the load tool saw has its audit row afterwards), and the failures are
#     visible: the "storage is full" log line, the motpd_store_full_total counter on /metrics, /readyz 503;
#   - service resumes without a restart once space returns (seconds measured, at most 10);
#   - `PRAGMA integrity_check` says ok, `motpd audit verify` passes, and an account created, one disabled, one
#     set to no SMS fallback and a device bound before the fault are unchanged.
# Needs root (mount). About 45 s.
source "$(dirname "$0")/lib.sh"
faults_begin disk-full
describe "SQLite volume full while serving (tmpfs filled, then freed)" \
  "fails closed (no unaudited Accept, log line, metric, /readyz 503); recovers without restart; integrity_check ok; earlier changes kept"

(($(id -u) == 0)) || fail "needs root to mount a tmpfs"
vol=$WORK/vol
mkdir -p "$vol"
mount -t tmpfs -o size=32m,mode=0700 tmpfs "$vol"
on_exit "umount -l '$vol'"

users=300
provision "$users"
dir=$WORK/node
url=sqlite://$vol/motpd.db
write_config "$dir" "$url"
setup_node "$dir" otp-only

# Changes made before the fault, to be found unchanged after it.
printf '%s\n' 'Nurse.Chen2024!' | motpd "$dir" user add nurse.chen --name 'Chen Nurse' --password-stdin >/dev/null ||
  fail "user add"
printf '%s\n' GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ | motpd "$dir" device enroll nurse.chen --secret-stdin >/dev/null ||
  fail "device enroll"
motpd "$dir" user set load000300 --status disabled --reason fault-test >/dev/null || fail "user set --status"
motpd "$dir" user set load000299 --sms-fallback off --reason fault-test >/dev/null || fail "user set --sms-fallback"
for id in nurse.chen load000300 load000299; do motpd "$dir" user show "$id" --json > "$dir/before.$id.json"; done

start_serve "$dir"
server=127.0.0.1:$(port "$dir" auth)
run_load "$WORK/load.out" --server "$server" --users 290 --mode otp-only --rate 20 --concurrency 16 \
  --sustained --duration 36s --timeout 2s --progress 5s --accepted-log "$WORK/accepted"
load=$LOAD_PID
sleep 6

full_errors_before=$(metric "$dir" motpd_store_full_total)
dd if=/dev/zero of="$vol/filler" bs=64k status=none 2>/dev/null || true
dd if=/dev/zero of="$vol/filler" bs=512 oflag=append conv=notrunc status=none 2>/dev/null || true
filled=$(now)
note "volume full: $(df -h --output=avail "$vol" | tail -n 1 | tr -d ' ') free"
failing=
for _ in $(seq 1 100); do
  if (($(metric "$dir" motpd_store_full_total) > full_errors_before)); then failing=$(now); break; fi
  sleep 0.1
done
[[ -n "$failing" ]] || fail "no write failed within 10 s of the volume filling up"
note "first failed write $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$filled" "$failing") s after the fill"
sleep 5
readyz() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$(port "$dir" admin)/readyz"; }
ready_full=$(readyz)
[[ "$ready_full" == 503 ]] || fail "/readyz answered $ready_full while the volume was full"
ok "/readyz answers 503 while the volume is full"
sleep 5
freeing=$(now)
rm -f "$vol/filler"
note "space returned"
sleep 1
ready_after=$(readyz)
[[ "$ready_after" == 200 ]] || fail "/readyz answered $ready_after after space returned"
ok "/readyz answers 200 again once space returned"

status=0
wait "$load" || status=$?
((status == 0)) || fail "radius_load exited $status: $(tail -n 2 "$WORK/load.out")"
full_errors=$(($(metric "$dir" motpd_store_full_total) - full_errors_before))
grep -q "storage is full" "$dir/serve.log" || fail "no 'storage is full' line in the log"
ok "the log says: $(grep -m 1 -o 'database storage is full[^=]*' "$dir/serve.log" | sed 's/ [a-z]*$//')"
ok "motpd_store_full_total counted $full_errors failed writes"

stop_pid "$SERVE_PID"
integrity=$(sql "$url" "PRAGMA integrity_check")
[[ "$integrity" == ok ]] || fail "integrity_check: $integrity"
ok "PRAGMA integrity_check: ok"
for id in nurse.chen load000300 load000299; do
  motpd "$dir" user show "$id" --json > "$dir/after.$id.json"
  cmp -s "$dir/before.$id.json" "$dir/after.$id.json" || fail "$id changed: $(diff "$dir/before.$id.json" "$dir/after.$id.json")"
done
ok "the account, device and settings made before the fault are unchanged"
motpd "$dir" audit verify > "$WORK/verify.out" 2>&1 || fail "audit verify: $(cat "$WORK/verify.out")"
ok "$(head -n 1 "$WORK/verify.out")"

sql "$url" "SELECT outcome, detail FROM audit_log WHERE kind = 'radius.auth' ORDER BY seq" > "$WORK/audit.rows"
python3 - "$WORK" "$failing" "$freeing" > "$WORK/check.out" <<'PY' || fail "$(cat "$WORK/check.out")"
import collections, json, sys
work, failing, freeing = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
accepts = [json.loads(l) for l in open(f"{work}/accepted")]
replied = sorted(a["replied_unix_us"] / 1e6 for a in accepts)
problems = []
rows = [l.split("|", 1) for l in open(f"{work}/audit.rows").read().splitlines() if l]
audited = collections.Counter(json.loads(d)["user"] for o, d in rows if o == "accept")
seen = collections.Counter(a["user"] for a in accepts)
missing = [u for u, n in seen.items() if audited[u] < n]
if missing:
    problems.append(f"{len(missing)} users with an Accept but no audit row: {missing[:5]}")
while_full = [t for t in replied if failing < t < freeing]
later = [t for t in replied if t > freeing]
resumed = later[0] - freeing if later else None
if resumed is None or resumed > 10:
    problems.append(f"no Accept within 10 s after space returned ({resumed})")
if not [t for t in replied if t < failing]:
    problems.append("no Accept before the fault")
print("; ".join(problems) if problems else
      f"{len(while_full)} Accepts (all audited) in the {freeing - failing:.0f} s while full; resumed "
      f"{resumed:.2f} s after space returned; {len(accepts)} Accepts, all audited")
sys.exit(1 if problems else 0)
PY
ok "$(cat "$WORK/check.out")"
result "$(cat "$WORK/check.out"); $full_errors failed writes counted"
