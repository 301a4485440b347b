# Shared helpers of the fault cases (tests/faults/NN-*.sh); sourced, never run. A case calls `faults_begin NAME`
# first: it builds motpd and the load tool, makes a work directory and installs the cleanup (every process the
# case started, by PID: TERM, then KILL; the hooks of `on_exit`; the PostgreSQL databases of `pg_database`).
# Loopback only. `describe` and `result` feed the one-line summary of tests/faults/run.sh.
#
# Variables a case may read: REPO, MOTPD, LOAD, WORK, SECRET, SEED_KEY, PG_ADMIN_URL.

set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MOTPD=$REPO/target/debug/motpd
LOAD=$REPO/target/debug/examples/radius_load
SECRET='testing123-long-secret'
SEED_KEY=faults-seed-key
PG_ADMIN_URL=${MOTPD_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export RADIUS_LOAD_SECRET=$SECRET RADIUS_LOAD_SEED_KEY=$SEED_KEY
CASE=fault
WORK=
_pids=()
_exit_hooks=()
_pg_databases=()

# faults_begin NAME: build, work directory, cleanup trap.
faults_begin() {
  CASE=$1
  (cd "$REPO" && cargo build --locked --quiet --bin motpd --example radius_load)
  WORK=$(mktemp -d "/tmp/motpd-faults-$CASE.XXXXXX")
  trap _faults_cleanup EXIT
  trap 'exit 130' INT TERM
}

fail() { echo "$CASE: FAIL: $*" >&2; exit 1; }
ok() { echo "$CASE: ok   $*"; }
note() { echo "$CASE: ..   $*"; }

# describe FAULT CHECKED / result TEXT: the summary line of run.sh (a no-op when run alone).
describe() {
  [[ -n "${FAULTS_SUMMARY:-}" ]] && printf 'fault\t%s\nchecked\t%s\n' "$1" "$2" >> "$FAULTS_SUMMARY"
  echo "$CASE: fault: $1; checks: $2"
}
result() {
  [[ -n "${FAULTS_SUMMARY:-}" ]] && printf 'result\t%s\n' "$1" >> "$FAULTS_SUMMARY"
  echo "$CASE: result: $1"
}

# on_exit COMMAND: run at cleanup (after the processes are stopped), last registered first.
on_exit() { _exit_hooks+=("$1"); }

_faults_cleanup() {
  local status=$? i
  for ((i = ${#_pids[@]} - 1; i >= 0; i--)); do stop_pid "${_pids[i]}"; done
  for ((i = ${#_exit_hooks[@]} - 1; i >= 0; i--)); do eval "${_exit_hooks[i]}" || true; done
  for db in "${_pg_databases[@]}"; do
    psql -XAtq "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  if ((status != 0)) && [[ -n "$WORK" ]]; then
    for log in "$WORK"/*.log "$WORK"/*/*.log; do
      [[ -f "$log" ]] && { echo "--- last lines of $log" >&2; tail -n 15 "$log" >&2; }
    done
  fi
  if [[ -n "$WORK" && -z "${FAULTS_KEEP:-}" ]]; then rm -rf "$WORK"; fi
  [[ -n "${FAULTS_KEEP:-}" ]] && echo "$CASE: work directory kept: $WORK" >&2
  return "$status"
}

# track PID: stopped at cleanup.
track() { _pids+=("$1"); }

# stop_pid PID: TERM, up to 10 s, then KILL; only a PID this case started.
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# free_ports KIND...: one free loopback port per KIND (udp or tcp), on one line.
free_ports() {
  python3 - "$@" <<'PY'
import socket, sys
kinds = {"udp": socket.SOCK_DGRAM, "tcp": socket.SOCK_STREAM}
socks = []
for kind in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, kinds[kind])
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*[s.getsockname()[1] for s in socks])
PY
}

# pg_database: a new, empty PostgreSQL database, its URL in PG_URL; dropped at cleanup. Call it directly, not
# in $(...): a subshell would not register the database for the cleanup.
pg_database() {
  local name
  name=motpd_fault_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  psql -XAtq "$PG_ADMIN_URL" -c "CREATE DATABASE $name TEMPLATE template0" >/dev/null
  _pg_databases+=("$name")
  PG_URL=$(python3 - "$PG_ADMIN_URL" "$name" <<'PY'
import sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit(url._replace(path="/" + sys.argv[2])))
PY
  )
}

# write_config DIR DATABASE_URL [RADIUS_LINES]: DIR/motpd.toml for one node: RADIUS, web and admin listeners on
# free loopback ports (in DIR/ports: "auth web admin"), no accounting, the key at $WORK/motpd.key (shared by
# every node of the case). RADIUS_LINES go into [radius] (e.g. 'on_store_error = "reject"'). Append further
# tables to DIR/motpd.toml yourself.
write_config() {
  local dir=$1 url=$2 extra=${3:-} auth web admin
  mkdir -p "$dir"
  read -r auth web admin < <(free_ports udp tcp tcp)
  echo "$auth $web $admin" > "$dir/ports"
  cat > "$dir/motpd.toml" <<TOML
[database]
url = "$url"
[radius]
listen = ["127.0.0.1:$auth"]
accounting_listen = []
$extra
[web]
listen = "127.0.0.1:$web"
public_url = "http://127.0.0.1:$web"
[admin]
listen = "127.0.0.1:$admin"
[secrets]
key_file = "$WORK/motpd.key"
TOML
}

# port DIR auth|web|admin: a port write_config chose.
port() {
  local auth web admin
  read -r auth web admin < "$1/ports"
  case $2 in auth) echo "$auth" ;; web) echo "$web" ;; admin) echo "$admin" ;; esac
}

# motpd DIR ARGS...: the CLI on DIR's configuration.
motpd() { (cd "$1" && "$MOTPD" --config "$1/motpd.toml" "${@:2}"); }

# provision USERS: $WORK/load/{users,devices}.csv for load000001.. (fast password hashes).
provision() {
  "$LOAD" provision --users "$1" --seed-key "$SEED_KEY" --hash-cost fast --out "$WORK/load" >/dev/null 2>&1 ||
    fail "radius_load provision"
}

# setup_node DIR [MODE]: init (database and key), the RADIUS client `load` (127.0.0.1, MODE, default
# otp-only), the provisioned users and devices. Once per database.
setup_node() {
  local dir=$1 mode=${2:-otp-only}
  motpd "$dir" init > "$dir/init.out" || fail "motpd init: $(cat "$dir/init.out")"
  printf '%s' "$SECRET" | motpd "$dir" client add load --address 127.0.0.1/32 --secret-stdin --mode "$mode" \
    >/dev/null || fail "motpd client add"
  motpd "$dir" user import "$WORK/load/users.csv" >/dev/null || fail "motpd user import"
  motpd "$dir" device import "$WORK/load/devices.csv" >/dev/null || fail "motpd device import"
}

# start_serve DIR: `motpd serve` on DIR's configuration, log DIR/serve.log (appended); waits for "motpd
# started" (20 s). Sets SERVE_PID.
start_serve() {
  local dir=$1 log=$1/serve.log before=0
  [[ -f "$log" ]] && before=$(grep -c "motpd started" "$log" || true)
  (cd "$dir" && exec "$MOTPD" --config "$dir/motpd.toml" serve) >> "$log" 2>&1 &
  SERVE_PID=$!
  track "$SERVE_PID"
  for _ in $(seq 1 200); do
    (($(grep -c "motpd started" "$log" || true) > before)) && return 0
    kill -0 "$SERVE_PID" 2>/dev/null || fail "serve ($dir) exited: $(tail -n 5 "$log")"
    sleep 0.1
  done
  fail "serve ($dir) did not start within 20 s"
}

# run_load OUT ARGS...: radius_load run ARGS (the secret and seed key come from the environment) in the
# background, output to OUT. Sets LOAD_PID; `wait "$LOAD_PID"` for it.
run_load() {
  local out=$1
  shift
  "$LOAD" run "$@" > "$out" 2>&1 &
  LOAD_PID=$!
  track "$LOAD_PID"
}

# load_field OUT KEY: a field of the final JSON line radius_load printed (nested keys: probes.0.sent).
load_field() {
  python3 - "$1" "$2" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.startswith("{")]
value = json.loads(lines[-1])
for key in sys.argv[2].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)
PY
}

# sql URL QUERY: one query on a sqlite:// or postgres:// database; rows as lines, columns separated by '|'.
sql() {
  case $1 in
    sqlite://*) sqlite3 -batch -noheader "${1#sqlite://}" "$2" ;;
    postgres://* | postgresql://*) psql -XAtq "$1" -c "$2" ;;
    *) fail "sql: unknown database URL $1" ;;
  esac
}

# metric DIR NAME [LABEL_FILTER]: the sum of NAME's samples (whose labels contain LABEL_FILTER) on DIR's admin
# listener; 0 if absent.
metric() {
  curl -fsS --max-time 5 "http://127.0.0.1:$(port "$1" admin)/metrics" |
    awk -v name="$2" -v filter="${3:-}" '
      $1 == name || index($1, name "{") == 1 { if (filter == "" || index($1, filter)) sum += $2 }
      END { printf "%.0f\n", sum }'
}

# since START: seconds (3 decimals) since START, a value of `now`.
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$(now)"; }
