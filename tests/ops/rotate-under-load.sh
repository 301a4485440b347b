#!/usr/bin/env bash
# Master key rotation with the load tool running: `motpd serve` (SQLite, the dev-profile binary) answers
# examples/radius_load's otp-only logins for 300 provisioned users while `motpd secrets rotate` re-seals every
# seed under a new key. Checks that the load tool saw every login accepted (no reject, no time-out, no bad
# reply), that `motpd secrets status` finds every sealed value under the new key, and that `motpd audit verify`
# passes over both keys' spans. Loopback only; bounded (about 40 s); stops the server by its PID and removes
# its directory.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "rotate-under-load: FAIL: $*" >&2; exit 1; }
ok() { echo "rotate-under-load: ok   $*"; }

cargo build --locked --quiet --bin motpd --example radius_load
motpd=$PWD/target/debug/motpd
load=$PWD/target/debug/examples/radius_load
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

read -r auth web < <(python3 - <<'PY'
import socket
socks = []
for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*[s.getsockname()[1] for s in socks])
PY
)
secret='testing123-long-secret'
users=300
cat > "$work/motpd.toml" <<TOML
[radius]
listen = ["127.0.0.1:$auth"]
accounting_listen = []
[web]
listen = "127.0.0.1:$web"
[admin]
listen = "127.0.0.1:0"
[secrets]
key_file = "motpd.key"
extra_key_files = ["next.key"]
TOML
cd "$work"
"$load" provision --users "$users" --seed-key ci-rotation --hash-cost fast --out load >/dev/null 2>&1
"$motpd" init >/dev/null
printf '%s' "$secret" | "$motpd" client add load --address 127.0.0.1/32 --secret-stdin --mode otp-only >/dev/null
"$motpd" user import load/users.csv >/dev/null
"$motpd" device import load/devices.csv >/dev/null
old_id=$("$motpd" secrets status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["database_key_id"])')

"$motpd" serve 2> serve.log &
server=$!
for _ in $(seq 1 100); do grep -q "motpd started" serve.log && break; sleep 0.1; done
grep -q "motpd started" serve.log || fail "serve did not start: $(cat serve.log)"

# 20 logins/s for 20 s; each user once per 30-s step (--sustained waits for the next step when all are used).
RADIUS_LOAD_SECRET=$secret RADIUS_LOAD_SEED_KEY=ci-rotation "$load" run --server "127.0.0.1:$auth" \
  --users "$users" --mode otp-only --rate 20 --concurrency 16 --duration 20s --sustained > load.out 2>&1 &
loader=$!
sleep 6
"$motpd" secrets new-key next.key >/dev/null
"$motpd" secrets rotate --new-key-file next.key > rotate.out || fail "secrets rotate: $(cat rotate.out)"
ok "$(head -n 1 rotate.out)"
wait "$loader" || fail "radius_load exited $?: $(tail -n 5 load.out)"

python3 - "$old_id" <<'PY' || fail "$(tail -n 3 load.out)"
import json, sys
counts = json.loads(open("load.out").read().strip().splitlines()[-1])
sent, accept = counts["sent"], counts["accept"]
print(f"rotate-under-load: load tool sent {sent}, accepted {accept}, rejected {counts['reject']}, "
      f"timeouts {counts['timeouts']}, bad {counts['bad']}")
assert sent >= 300, "the load tool ran through the rotation"
assert accept == sent and counts["reject"] == 0 and counts["timeouts"] == 0 and counts["bad"] == 0
PY
ok "every login accepted while the key rotated"

status=$("$motpd" secrets status --json)
python3 - "$old_id" "$status" <<'PY' || fail "secrets status: $status"
import json, sys
old, status = sys.argv[1], json.loads(sys.argv[2])
assert status["database_key_id"] != old, "the database names the new key"
used = set(status["values"])
assert used == {status["database_key_id"]}, f"values under {used}"
PY
ok "every sealed value is under the new key"
"$motpd" audit verify > verify.out || fail "audit verify: $(cat verify.out)"
ok "$(head -n 1 verify.out)"
"$motpd" audit list --kind secrets.rotate --json | grep -q '"secrets.rotate"' || fail "no secrets.rotate audit row"
ok "the rotation is in the audit trail"
