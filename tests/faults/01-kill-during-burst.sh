#!/usr/bin/env bash
# Fault 01: `kill -9` of `motpd serve` during a burst of logins, on SQLite and on PostgreSQL (FAULTS_BACKENDS,
# default "sqlite postgres"). Two load streams run against one server: otp-only logins of 2,000 users as fast
# as 64 outstanding requests allow, from 127.0.0.1, and password+otp logins of 100 other users at 10/s from
# 127.0.0.2 (a client of that mode), each writing every Accept it sees to an --accepted-log. Once the server
# has logged 400 decisions (mid-burst, with commits in flight) it is killed with SIGKILL. Then it is started
# again and:
#   - every code accepted before the kill is sent again (`radius_load replay`) while still inside the TOTP
#     window: all must be refused, and the audit trail must name the replay guard ("replayed") as the reason;
#   - every Accept a load stream saw must have its audit row (radius.auth, accept, that user);
#   - `motpd audit verify` passes (the chain survived the kill).
# About 30 s per backend.
source "$(dirname "$0")/lib.sh"
faults_begin kill-during-burst
describe "kill -9 of serve during a burst (otp-only and password+otp)" \
  "codes accepted before the kill are refused after restart (reason replayed); every Accept seen has its audit row; audit verify"

otp_users=2000
pw_users=100
provision $((otp_users + pw_users))
results=()

one_backend() {
  local backend=$1 dir=$WORK/$1 url
  case $backend in
    sqlite) url="sqlite://$WORK/$backend/motpd.db" ;;
    postgres) pg_database && url=$PG_URL ;;
    *) fail "unknown backend $backend" ;;
  esac
  rm -f "$WORK/motpd.key"
  write_config "$dir" "$url"
  setup_node "$dir" otp-only
  printf '%s' "$SECRET" | motpd "$dir" client add load-pw --address 127.0.0.2/32 --secret-stdin \
    --mode password+otp >/dev/null || fail "client add load-pw"
  start_serve "$dir"
  local server=127.0.0.1:$(port "$dir" auth)

  run_load "$dir/pw.out" --server "$server" --users "$pw_users" --first-user $((otp_users + 1)) \
    --mode password+otp --source 127.0.0.2 --rate 10 --concurrency 16 --duration 7s --timeout 2s \
    --progress 0 --accepted-log "$dir/pw.accepted"
  local pw_load=$LOAD_PID
  # The password+otp stream first: its first logins re-hash at motpd's cost on idle-priority threads, which a
  # busy machine starves; the burst starts after 3 s and 5 of its Accepts (at most 6.5 s in).
  local pw_seen=0
  local i
  for i in $(seq 1 65); do
    pw_seen=$(grep -c 'client=load-pw .*outcome="accept"' "$dir/serve.log" || true)
    ((i >= 30 && pw_seen >= 5)) && break
    sleep 0.1
  done
  run_load "$dir/otp.out" --server "$server" --users "$otp_users" --mode otp-only --concurrency 64 \
    --duration 4s --timeout 2s --progress 0 --accepted-log "$dir/otp.accepted"
  local otp_load=$LOAD_PID
  local decisions=0
  for _ in $(seq 1 500); do
    decisions=$(grep -c "access decision" "$dir/serve.log" || true)
    ((decisions >= 400)) && break
    sleep 0.01
  done
  kill -KILL "$SERVE_PID"
  wait "$SERVE_PID" 2>/dev/null || true
  note "$backend: serve killed (SIGKILL) after $decisions logged decisions"
  wait "$otp_load" || fail "$backend: otp-only load exited $?: $(tail -n 3 "$dir/otp.out")"
  wait "$pw_load" || fail "$backend: password+otp load exited $?: $(tail -n 3 "$dir/pw.out")"

  local otp_accepts pw_accepts otp_timeouts
  otp_accepts=$(wc -l < "$dir/otp.accepted")
  pw_accepts=$(wc -l < "$dir/pw.accepted")
  otp_timeouts=$(load_field "$dir/otp.out" timeouts)
  [[ $(load_field "$dir/otp.out" accept) == "$otp_accepts" ]] || fail "$backend: accepted-log and JSON line disagree"
  ((otp_accepts >= 100)) || fail "$backend: only $otp_accepts otp-only Accepts before the kill"
  ((pw_accepts >= 5)) || fail "$backend: only $pw_accepts password+otp Accepts before the kill"
  ((otp_timeouts > 0)) || fail "$backend: no time-outs: the kill did not interrupt the burst"
  ok "$backend: before the kill: $otp_accepts otp-only and $pw_accepts password+otp Accepts; $otp_timeouts requests unanswered"

  start_serve "$dir"
  local restarted
  restarted=$(now)
  "$LOAD" replay --server "$server" --mode otp-only --from "$dir/otp.accepted" --concurrency 16 \
    > "$dir/otp.replay" || fail "$backend: otp-only replay: $(tail -n 1 "$dir/otp.replay")"
  "$LOAD" replay --server "$server" --mode password+otp --source 127.0.0.2 --from "$dir/pw.accepted" \
    > "$dir/pw.replay" || fail "$backend: password+otp replay: $(tail -n 1 "$dir/pw.replay")"
  note "$backend: restarted and replayed in $(since "$restarted") s"
  # A Reject's audit row is written behind its reply (batched); SIGTERM writes what is queued.
  stop_pid "$SERVE_PID"

  sql "$url" "SELECT seq, outcome, detail FROM audit_log WHERE kind = 'radius.auth' ORDER BY seq" > "$dir/audit.rows"
  python3 - "$dir" "$otp_accepts" "$pw_accepts" > "$dir/check.out" <<'PY' || fail "$backend: $(cat "$dir/check.out")"
import collections, json, sys
d, otp_accepts, pw_accepts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
problems = []
for name, expected in (("otp", otp_accepts), ("pw", pw_accepts)):
    r = json.loads(open(f"{d}/{name}.replay").read().splitlines()[-1])
    if r["sent"] != expected or r["reject"] != expected:
        problems.append(f"{name} replay: {r}")
    if r["step_now"] - r["oldest_step"] > 1:
        problems.append(f"{name} replay came after the TOTP window (step {r['oldest_step']} at {r['step_now']})")
rows = [line.split("|", 2) for line in open(f"{d}/audit.rows").read().splitlines() if line]
accepted = collections.Counter()
replayed = collections.Counter()
for seq, outcome, detail in rows:
    detail = json.loads(detail)
    if outcome == "accept":
        accepted[detail["user"]] += 1
    elif detail.get("reason") == "replayed":
        replayed[detail["user"]] += 1
seen = collections.Counter()
for name in ("otp", "pw"):
    for line in open(f"{d}/{name}.accepted"):
        seen[json.loads(line)["user"]] += 1
missing = {u: (n, accepted[u]) for u, n in seen.items() if accepted[u] < n}
if missing:
    problems.append(f"{len(missing)} users with Accepts the load tool saw but no audit row: {dict(list(missing.items())[:5])}")
not_replayed = [u for u in seen if replayed[u] < 1]
if not_replayed:
    problems.append(f"{len(not_replayed)} replays refused for another reason than the replay guard: {not_replayed[:5]}")
extra = sum(accepted.values()) - sum(seen.values())
print("; ".join(problems) if problems else
      f"{sum(accepted.values())} accept audit rows ({extra} committed but their reply lost to the kill), "
      f"{sum(replayed.values())} replays refused as replayed")
sys.exit(1 if problems else 0)
PY
  ok "$backend: all $((otp_accepts + pw_accepts)) codes accepted before the kill refused after restart (reason replayed)"
  ok "$backend: every Accept seen has its audit row: $(cat "$dir/check.out")"
  motpd "$dir" audit verify > "$dir/verify.out" 2>&1 || fail "$backend: audit verify: $(cat "$dir/verify.out")"
  ok "$backend: $(head -n 1 "$dir/verify.out")"
  results+=("$backend: $((otp_accepts + pw_accepts)) Accepts seen before the kill, all refused on replay after restart, all audited ($(grep -o '[0-9]* committed but their reply lost' "$dir/check.out"))")
}

for backend in ${FAULTS_BACKENDS:-sqlite postgres}; do one_backend "$backend"; done
result "$(IFS=';'; echo "${results[*]}" | sed 's/;/; /g')"
