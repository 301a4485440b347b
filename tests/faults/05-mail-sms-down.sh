#!/usr/bin/env bash
# Fault 5: the mail relay and the SMS gateway are down (port closed), slow (they accept the connection and never
# answer) and failing (SMTP 554, HTTP 500), one state after the other, while `motpd serve` (SQLite) answers
# otp-only logins at 50/s and the web pages are used: enrollments on /enroll (each binding mails and texts its
# notice in the background) and SMS code requests on /account/reset (the code is texted in the background).
# The relay and gateway are real servers (aiosmtpd, Python's http.server, a silent TCP listener:
# tests/faults/fake_relay.py) on loopback; the pages are driven by tests/faults/web_flows.py.
#
# Checks, in each broken state against the healthy one in the same run: the otp-only logins' p99 stays within
# 3 x healthy + 100 ms (all accepted, none timed out); every page answers within its budget (2 s: no page waits
# for a relay or a gateway); every triggered send ends (counted in motpd_mail_send / motpd_sms_send, ok or
# failed) within its time-out, so none piles up; open descriptors return to where they were and resident
# memory stays within 48 MiB of the healthy state. About 80 s.
source "$(dirname "$0")/lib.sh"
faults_begin mail-sms-down
describe "SMTP relay and SMS gateway down, silent and failing (5xx) in turn" \
  "otp-only p99 vs healthy, page latency <= 2 s, every send ends (no pile-up), fds and RSS back"

node=$WORK/node
write_config "$node" "sqlite://$node/motpd.db"
read -r smtp_port sms_port < <(free_ports tcp tcp)
auth=$(port "$node" auth)
web=http://127.0.0.1:$(port "$node" web)
admin=$(port "$node" admin)
# Each flow comes from its own address (X-Forwarded-For from the trusted loopback proxy), as staff do.
sed -i 's|^\[web\]$|[web]\ntrusted_proxies = ["127.0.0.1/32"]\nenroll_networks = ["10.0.0.0/8"]\naccount_networks = ["10.0.0.0/8"]|' \
  "$node/motpd.toml"
mail_timeout=5 sms_timeout=3
cat >> "$node/motpd.toml" <<TOML
[smtp]
host = "127.0.0.1"
port = $smtp_port
tls = "none"
from = "motp@example.org"
timeout_seconds = $mail_timeout
[sms]
provider = "http"
url = "http://127.0.0.1:$sms_port/send"
timeout_seconds = $sms_timeout
retries = 1
TOML

# load000001-1600: RADIUS (400 per state); 1601-1640: enroll (10 per state, no device yet); 1641-1680: SMS code
# requests (10 per state); 1681-1880: a warm-up before the healthy state. 1601-1680 have a mobile number and an
# address.
provision 1880
python3 - "$WORK/load" <<'PY'
import csv, sys
d = sys.argv[1]
rows = list(csv.reader(open(f"{d}/users.csv")))
for i, row in enumerate(rows[1:], start=1):
    if i > 1600:
        row[2], row[3] = "09%08d" % i, f"load{i:06d}@example.org"
csv.writer(open(f"{d}/users.csv", "w", newline="")).writerows(rows)
devices = list(csv.reader(open(f"{d}/devices.csv")))
keep = [devices[0]] + [r for r in devices[1:] if not "load001601" <= r[0] <= "load001640"]
csv.writer(open(f"{d}/devices.csv", "w", newline="")).writerows(keep)
PY
setup_node "$node"
start_serve "$node"
pid=$SERVE_PID
kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
sends() { # mail|sms: exchanges ended, ok or failed
  local name=motpd_mail_send_duration_seconds_count
  [[ $1 == sms ]] && name=motpd_sms_send_duration_seconds_count
  metric "$node" "$name"
}

relays=()
start_relay() { # MODE PORT
  mkdir -p "$WORK/out"
  : > "$WORK/relay-$1-$2.log"
  python3 "$REPO/tests/faults/fake_relay.py" "$1" "$2" "$WORK/out" > "$WORK/relay-$1-$2.log" 2>&1 &
  local relay=$!
  track "$relay"
  relays+=("$relay")
  for _ in $(seq 1 50); do grep -q ready "$WORK/relay-$1-$2.log" && return 0; sleep 0.1; done
  fail "fake relay $1 did not start: $(cat "$WORK/relay-$1-$2.log")"
}
stop_relays() {
  for relay in "${relays[@]}"; do stop_pid "$relay"; done
  relays=()
}

mails_expected=0 sms_expected=0 index=0
declare -A p99 page_max
# phase NAME SMTP_MODE SMS_MODE (mode "down": nothing listens)
phase() {
  local name=$1 first=$((index * 400 + 1)) i worst=0
  stop_relays
  [[ $2 != down ]] && start_relay "$2" "$smtp_port"
  [[ $3 != down ]] && start_relay "$3" "$sms_port"
  run_load "$WORK/$name.out" --server "127.0.0.1:$auth" --mode otp-only --users 400 --first-user "$first" \
    --rate 50 --concurrency 32 --duration 8s --timeout 3s --progress 0
  for i in $(seq 1 10); do
    local enrollee=$((1600 + index * 10 + i)) requester=$((1640 + index * 10 + i))
    python3 "$REPO/tests/faults/web_flows.py" enroll "$web" "10.5.$index.$i" "$(printf 'load%06d' "$enrollee")" \
      "$(printf 'Pwload%06d1' "$enrollee")" > "$WORK/$name-enroll-$i.json" ||
      fail "$name: enrollment of load$enrollee failed: $(cat "$WORK/$name-enroll-$i.json")"
    python3 "$REPO/tests/faults/web_flows.py" reset-sms "$web" "10.6.$index.$i" "$(printf 'load%06d' "$requester")" \
      "$(printf '09%08d' "$requester")" > "$WORK/$name-reset-$i.json" ||
      fail "$name: SMS code request of load$requester failed: $(cat "$WORK/$name-reset-$i.json")"
    for file in "$WORK/$name-enroll-$i.json" "$WORK/$name-reset-$i.json"; do
      worst=$(python3 -c "import json,sys; print(max($worst, json.load(open(sys.argv[1]))['max_seconds']))" "$file")
    done
  done
  mails_expected=$((mails_expected + 10)) sms_expected=$((sms_expected + 20))
  wait "$LOAD_PID" || fail "$name: radius_load exited $?"
  local accept sent timeouts
  accept=$(load_field "$WORK/$name.out" accept) sent=$(load_field "$WORK/$name.out" sent)
  timeouts=$(load_field "$WORK/$name.out" timeouts)
  ((sent > 0 && accept == sent && timeouts == 0)) || fail "$name: $accept of $sent logins accepted, $timeouts timeouts"
  p99[$name]=$(load_field "$WORK/$name.out" p99_ms)
  page_max[$name]=$worst
  python3 -c "import sys; sys.exit(0 if $worst <= 2.0 else 1)" || fail "$name: a page took $worst s (budget 2 s)"
  # Every send ends within its time-out (the SMS: one retry after a refused connection or a 5xx).
  local deadline=$((SECONDS + mail_timeout + 2 * sms_timeout + 5)) mails smses
  while :; do
    mails=$(sends mail) smses=$(sends sms)
    ((mails >= mails_expected && smses >= sms_expected)) && break
    ((SECONDS < deadline)) || fail "$name: sends still pending: mail $mails of $mails_expected, SMS $smses of $sms_expected ended"
    sleep 0.5
  done
  ((mails == mails_expected && smses == sms_expected)) ||
    fail "$name: $mails mail and $smses SMS sends counted, expected $mails_expected and $sms_expected"
  ok "$name: $accept/$sent logins accepted, p99 ${p99[$name]} ms; 10 enrollments and 10 SMS code requests, slowest page $worst s; every mail ($mails) and SMS ($smses) send ended"
  index=$((index + 1))
}

"$LOAD" run --server "127.0.0.1:$auth" --mode otp-only --users 200 --first-user 1681 --rate 50 --concurrency 32 \
  --duration 4s --progress 0 > "$WORK/warm-up.out" 2>&1 || fail "warm-up: $(tail -n 3 "$WORK/warm-up.out")"
phase healthy smtp-ok http-ok
mailed=$(find "$WORK/out" -name '*.eml' | wc -l)
texted=$(find "$WORK/out" -name '*.sms' | wc -l)
((mailed == 10 && texted == 20)) || fail "healthy: the relay got $mailed mails (10 expected), the gateway $texted SMS (20)"
ok "healthy: the relay received 10 notices, the gateway 20 SMS (10 notices, 10 codes)"
fds_healthy=$(fds "$pid") rss_healthy=$(kib "$pid" VmRSS)
failed_before=$(metric "$node" motpd_mail_send_duration_seconds_count 'result="failed"')

phase down down down
phase silent silent silent
phase failing smtp-fail http-fail
stop_relays
failed_after=$(metric "$node" motpd_mail_send_duration_seconds_count 'result="failed"')
((failed_after - failed_before == 30)) || fail "mail sends counted failed: $((failed_after - failed_before)), expected 30"
fds_after=$(fds "$pid") rss_after=$(kib "$pid" VmRSS)
((fds_after <= fds_healthy + 4)) || fail "open descriptors $fds_healthy -> $fds_after: connections left open"
# The caches and the allocator still grow by some 25 MiB in the first minutes of serving (case 07); 30 stuck
# sends would be far less, so the descriptors and the ended sends above are the sharper test.
((rss_after <= rss_healthy + 48 * 1024)) || fail "VmRSS $((rss_healthy / 1024)) -> $((rss_after / 1024)) MiB"
ok "30 mails counted failed; open descriptors $fds_healthy -> $fds_after; VmRSS $((rss_healthy / 1024)) -> $((rss_after / 1024)) MiB"

summary=
# A RADIUS path that waited on the relay or the gateway would show their time-outs (3-5 s) in its p99; the
# allowance (3 x healthy + 100 ms) absorbs the scheduling noise of a shared two-core machine.
for name in down silent failing; do
  python3 -c "import sys; sys.exit(0 if ${p99[$name]} <= 3 * ${p99[healthy]} + 100 else 1)" ||
    fail "$name: otp-only p99 ${p99[$name]} ms against ${p99[healthy]} ms healthy"
  ratio=$(python3 -c "print(f'{${p99[$name]} / max(${p99[healthy]}, 0.001):.2f}')")
  summary+="$name p99 ${p99[$name]} ms (x$ratio), pages <= ${page_max[$name]} s; "
done
summary=${summary%; }
ok "otp-only p99 healthy ${p99[healthy]} ms; $summary"
result "p99 healthy ${p99[healthy]} ms; $summary; every send ended; fds $fds_healthy -> $fds_after; RSS $((rss_healthy / 1024)) -> $((rss_after / 1024)) MiB"
