#!/usr/bin/env bash
# The admin listener as an admin's Prometheus sees it: runs `motpd serve` (the dev-profile binary) on a
# temporary directory with free loopback ports, adds a RADIUS client and an account with the CLI, logs in with
# FreeRADIUS radclient (an Accept, a Reject, a wrong shared secret) and sends a datagram from an address that is
# no client, then scrapes /metrics with curl and checks that:
#   - `promtool check metrics` (Debian package prometheus) finds nothing to complain about in the scrape;
#   - the decision and drop counters and the decision latency histogram counted those requests, and the
#     console's counters are there at zero;
#   - /healthz and /readyz answer 200;
#   - `promtool check rules` accepts docs/monitoring/alerts.yml, and the Grafana dashboard is valid JSON that
#     names only metrics the scrape has.
# Stops the server by its PID and removes the directory. Installs prometheus, freeradius-utils and curl if
# missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

fail() { echo "metrics: FAIL: $*" >&2; exit 1; }
ok() { echo "metrics: ok   $*"; }

missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v radclient >/dev/null || missing+=(freeradius-utils)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cargo build --quiet --bin motpd
motpd=$PWD/target/debug/motpd
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Four free loopback ports (UDP for RADIUS, TCP for the web and admin listeners).
read -r auth acct web admin < <(python3 - <<'PY'
import socket
socks = []
for kind in (socket.SOCK_DGRAM, socket.SOCK_DGRAM, socket.SOCK_STREAM, socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*[s.getsockname()[1] for s in socks])
PY
)
secret='testing123-long-secret'
password='Nurse.Chen2024!'
# RFC 6238's SHA1 seed "12345678901234567890" in base32.
seed='GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'
cat > "$work/motpd.toml" <<TOML
[database]
url = "sqlite://$work/motpd.db"
[radius]
listen = ["127.0.0.1:$auth"]
accounting_listen = ["127.0.0.1:$acct"]
language = "en"
[web]
listen = "127.0.0.1:$web"
[secrets]
key_file = "$work/motpd.key"
[admin]
listen = "127.0.0.1:$admin"
TOML
export MOTPD_CONFIG=$work/motpd.toml
"$motpd" init >/dev/null
printf '%s' "$secret" | "$motpd" client add ci --address 127.0.0.1 --secret-stdin >/dev/null
printf '%s' "$password" | "$motpd" user add alice --name 'Alice Chen' --password-stdin >/dev/null
printf '%s' "$seed" | "$motpd" device enroll alice --secret-stdin >/dev/null
ok "client, account and device added with the CLI"

"$motpd" serve >"$work/serve.log" 2>&1 &
server=$!
base=http://127.0.0.1:$admin
for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; fail "motpd serve exited"; }
  sleep 0.2
done
[ "$(curl -fsS "$base/healthz")" = ok ] || fail "/healthz"
ok "/healthz answers ok"
ready=$(curl -sS -o "$work/ready.txt" -w '%{http_code}' "$base/readyz")
[ "$ready" = 200 ] || fail "/readyz answered $ready: $(cat "$work/ready.txt")"
ok "/readyz answers 200"

totp() {
  python3 -c 'import base64,hashlib,hmac,struct,sys,time
key = base64.b32decode(sys.argv[1])
mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
o = mac[-1] & 15
print("%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000))' "$seed"
}
login() { # user-password, secret
  printf 'User-Name=alice,User-Password=%s,Message-Authenticator=0x00\n' "$1" |
    radclient -t 5 -r 1 -x "127.0.0.1:$auth" auth "$2" 2>&1 || true
}
login "$password$(totp)" "$secret" | grep -q 'Access-Accept' || fail "no Access-Accept for the right code"
login "${password}000000" "$secret" | grep -q 'Access-Reject' || fail "no Access-Reject for a wrong code"
login "$password$(totp)" 'not-the-secret' | grep -q 'Access-Accept' && fail "a wrong shared secret was answered"
# A datagram from 127.0.0.2, which is no client.
python3 -c 'import socket,sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.2", 0))
s.sendto(bytes([1, 7, 0, 20]) + bytes(16), ("127.0.0.1", int(sys.argv[1])))' "$auth"
ok "radclient logins: an Accept, a Reject, a wrong secret unanswered"

sleep 0.5
curl -fsS "$base/metrics" >"$work/scrape.txt"
lint=$(promtool check metrics <"$work/scrape.txt" 2>&1) || fail "promtool check metrics: $lint"
[ -z "$lint" ] || fail "promtool check metrics complains: $lint"
ok "promtool check metrics: no problems in a scrape of $(grep -c '^motpd_' "$work/scrape.txt") samples"

value() { # sample name with labels, exactly as rendered
  awk -v name="$1" '$1 == name { print $2 }' "$work/scrape.txt"
}
expect() { # sample, expected value
  local got
  got=$(value "$1")
  [ "$got" = "$2" ] || fail "$1 is ${got:-absent}, expected $2"
}
expect 'motpd_radius_decisions_total{outcome="accept",reason="none",client="ci"}' 1
expect 'motpd_radius_decisions_total{outcome="reject",reason="bad_code",client="ci"}' 1
expect 'motpd_radius_packets_dropped_total{reason="bad_authenticator"}' 1
expect 'motpd_radius_packets_dropped_total{reason="unknown_client"}' 1
expect 'motpd_radius_decision_duration_seconds_count{outcome="accept"}' 1
expect 'motpd_store_commit_duration_seconds_count' 1
expect 'motpd_build_info{version="'"$("$motpd" --version | awk '{print $2}')"'",backend="sqlite"}' 1
grep -q '^motpd_clock_synchronised [01]$' "$work/scrape.txt" || fail "no clock gauge"
# No console here: its counters are in the scrape at zero all the same (the dashboard and an alert use them).
expect 'motpd_console_logins_total{outcome="wrong_password"}' 0
expect 'motpd_console_actions_total{action="unlock"}' 0
expect 'motpd_console_sessions' 0
expect 'motpd_store_errors_total{operation="session_count"}' 0
ok "counters, histograms, build info, clock gauge and console metrics as expected"

rules=$(promtool check rules docs/monitoring/alerts.yml 2>&1) || fail "promtool check rules: $rules"
ok "promtool check rules docs/monitoring/alerts.yml: $(echo "$rules" | grep -o 'SUCCESS: [0-9]* rules found')"
python3 - "$work/scrape.txt" docs/monitoring/grafana-dashboard.json <<'PY' || fail "dashboard"
import json, re, sys
scrape = open(sys.argv[1]).read()
exported = set(re.findall(r"^(motpd_[a-z_]+)", scrape, re.M))
dashboard = json.load(open(sys.argv[2]))
used = set()
for panel in dashboard["panels"]:
    for target in panel.get("targets", []):
        used |= set(re.findall(r"motpd_[a-z_]+", target["expr"]))
unknown = sorted(m for m in used if m not in exported and not re.sub(r"_(bucket|count|sum)$", "", m) in exported)
if unknown:
    sys.exit("dashboard names metrics the scrape lacks: %s" % unknown)
print("metrics: ok   dashboard JSON: %d panels, %d metric names, all in the scrape" % (len(dashboard["panels"]), len(used)))
PY

kill -TERM "$server"
for _ in $(seq 1 75); do kill -0 "$server" 2>/dev/null || break; sleep 0.2; done
kill -0 "$server" 2>/dev/null && fail "motpd did not stop within 15 s of SIGTERM"
wait "$server" || fail "motpd serve exited with $? after SIGTERM"
server=
ok "motpd stopped on SIGTERM"
