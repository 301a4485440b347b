#!/usr/bin/env bash
# motpd side by side with FreeRADIUS 3.2 (Debian) and a no-work responder, in one run, on loopback (issue #6).
#
#   bash benches/compare.sh            # 100,000 accounts; about 10 min once built
#   bash benches/compare.sh --quick    # 20,000 accounts, shorter runs; about 4 min once built
#   bash benches/compare.sh --ldap     # passwords checked by one slapd: FreeRADIUS rlm_ldap against motpd
#                                      # password_source = "ldap" (issue #23); about 3 min once built
#   options: --out DIR (results; default target/compare), --pg URL (PostgreSQL server, default
#            postgres://postgres@127.0.0.1:5432; a fresh database is created and dropped), --keep (keep the
#            temporary server directories), --concurrency N (default 256), --baseline BIN (also run another
#            motpd binary, say one built from main before a change, on SQLite and PostgreSQL: rows
#            before-sqlite and before-postgres, measured in the same run as the others), --ldap (only the
#            directory comparison below; --quick halves its population), --ldap-pool N (LDAP connections of
#            each server, default 4)
#
# What it does:
#  1. installs what is missing from Debian (freeradius, freeradius-utils, jq, postgresql-client) and builds the
#     release binaries (motpd, examples radius_load and null_responder) and the criterion bench `password` (the
#     time of one Argon2id verify: the hashing bound);
#  2. provisions one population with radius_load (default-cost Argon2id hashes for the accounts whose password
#     is checked, fast ones for the rest) and writes a private FreeRADIUS raddb (4 threads, reject_delay 0,
#     recv_buff 4 MiB, PAP cleartext and rlm_totp, Message-Authenticator in every reply, like motpd);
#  3. starts, one after the other on free loopback ports, the no-work responder, FreeRADIUS, motpd on SQLite
#     and motpd on PostgreSQL, runs the same load against each (same outstanding count, same users taken in a
#     scattered order as logins reach a gateway, never load000001, load000002, ... in a row whose rows share
#     database pages; the OTP peak as a burst within one 30-s step over the whole population), reads the server's CPU time from
#     /proc/PID/stat before and after every run, and stops the server by its PID;
#  4. also: password+otp against the hashing bound with Status-Server and otp-only probes, otp-only p99 at half
#     of the peak rate (and, as controls, the no-work responder's and FreeRADIUS's p99 at motpd SQLite's
#     half-peak rate; every reply's latency in <label>.timeline.csv), 1,000 vs all accounts (throughput and
#     resident memory), two motpd nodes on one PostgreSQL database with every code sent to both (double
#     accepts must be 0);
#  --ldap instead: one slapd (tests/ldap/slapd.sh, ldaps with a test CA, AD-shaped entries user00001 ...)
#     holds the passwords of both servers; FreeRADIUS 3.2 rlm_ldap (search as the service account, then a bind
#     as the user, a pool of --ldap-pool connections, 4 threads) checks the password alone (it has no OTP);
#     motpd checks password + code in password+otp mode with password_source = "ldap" on SQLite. Each gets the
#     same burst (every user once, 256 outstanding) and then half of its own peak, open loop, for p50/p99;
#     the server's and slapd's CPU per reply are read from /proc for every run.
#  5. prints the machine, a table (replies/s, p50/p99, server CPU µs per reply, ratios to FreeRADIUS and to
#     the no-work responder) and the extra figures; writes them with every JSON line and log under --out.
#
# Loopback only; every server and load run is bounded in time and stopped by PID (trap cleanup).
set -euo pipefail

QUICK=0
BASELINE=
LDAP=0
LDAP_POOL=4
KEEP=0
CONCURRENCY=256
PG_SERVER=${MOTPD_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$REPO/target/compare
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1 ;;
        --keep) KEEP=1 ;;
        --out) OUT=$2; shift ;;
        --pg) PG_SERVER=$2; shift ;;
        --concurrency) CONCURRENCY=$2; shift ;;
        --baseline) BASELINE=$2; shift ;;
        --ldap) LDAP=1 ;;
        --ldap-pool) LDAP_POOL=$2; shift ;;
        -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$QUICK" = 1 ]; then
    USERS=20000        # otp-only population (the peak burst goes over all of it)
    PWOTP_USERS=600    # default-cost accounts with a device: password+otp
    BURST_SECONDS=8    # upper bound of a peak burst (it ends when every user was used in the step)
    RUN_SECONDS=5      # password-only and half-peak runs
    PWOTP_SECONDS=6    # password+otp with probes
    DUAL_USERS=5000
    LDAP_USERS=10000   # --ldap: entries in slapd (users 11 ... are loaded)
else
    USERS=100000
    PWOTP_USERS=1500
    BURST_SECONDS=12
    RUN_SECONDS=8
    PWOTP_SECONDS=15
    DUAL_USERS=20000
    LDAP_USERS=20000
fi
PWONLY_USERS=200       # default-cost accounts without a device: password-only (cycled)
PROBE_USERS=2000       # otp-only probe accounts
SMALL_USERS=1000
SMALL_BURSTS=3         # 1,000-request bursts per site (one lasts tens of milliseconds: the median of three)
SECRET=compare-$RANDOM$RANDOM-shared-secret
SEED_KEY=compare-seed-key
export RADIUS_LOAD_SECRET=$SECRET RADIUS_LOAD_SEED_KEY=$SEED_KEY NULL_RESPONDER_SECRET=$SECRET

# The population, by 1-based user number (load000001 ...):
PWOTP_FIRST=1
PWONLY_FIRST=$((PWOTP_FIRST + PWOTP_USERS))
OTP_FIRST=$((PWONLY_FIRST + PWONLY_USERS))
PROBE_FIRST=$((OTP_FIRST + USERS))
TOTAL=$((PROBE_FIRST + PROBE_USERS - 1))
FULL_COST=$((PWOTP_USERS + PWONLY_USERS)) # users 1..FULL_COST get motpd's own Argon2id cost

fr_version() { freeradius -v 2>/dev/null | sed -nE '1s/.*Version ([0-9.]+).*/\1/p'; }
say() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)" >&2; }
die() { echo "compare.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------- setup
install_missing() {
    local packages=()
    command -v freeradius >/dev/null || packages+=(freeradius)
    command -v radclient >/dev/null || packages+=(freeradius-utils)
    command -v jq >/dev/null || packages+=(jq)
    command -v psql >/dev/null || packages+=(postgresql-client)
    if [ "$LDAP" = 1 ]; then
        [ -e /usr/lib/freeradius/rlm_ldap.so ] || packages+=(freeradius-ldap)
        command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] || packages+=(slapd)
        command -v ldapwhoami >/dev/null || packages+=(ldap-utils)
    fi
    if [ ${#packages[@]} -gt 0 ]; then
        say "installing ${packages[*]} from Debian"
        [ "$(id -u)" = 0 ] || die "run as root to install ${packages[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    fi
    # Debian starts the packaged daemon on install: it would hold port 1812 and share the CPU.
    if command -v systemctl >/dev/null && systemctl is-active --quiet freeradius 2>/dev/null; then
        systemctl stop freeradius || true
    fi
}

TMP=$(mktemp -d /tmp/motpd-compare.XXXXXX)
chmod 755 "$TMP"
PIDS=()
PG_DATABASES=()
cleanup() {
    local pid db
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    for db in "${PG_DATABASES[@]}"; do
        psql -q "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    if [ "$KEEP" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
    local keep=() pid
    for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
    PIDS=("${keep[@]}")
}

# Stops a server by its PID: SIGTERM, up to 10 s, then SIGKILL.
stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

# A loopback port free for UDP and TCP (checked against /proc/net; nothing else is needed).
USED_PORTS=" "
free_port() {
    local port hex
    while :; do
        port=$((20000 + RANDOM % 40000))
        hex=$(printf ':%04X ' "$port")
        case $USED_PORTS in *" $port "*) continue ;; esac
        if ! cat /proc/net/udp /proc/net/udp6 /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q "$hex"; then
            USED_PORTS="$USED_PORTS$port "
            echo "$port"
            return
        fi
    done
}

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat, after the command name).
cpu_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat") || die "process $1 is gone"
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    echo $((${12} + ${13}))
}
CLK_TCK=$(getconf CLK_TCK)
CORES=$(nproc)
export CORES

rss_kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

# Waits until the RADIUS server at $1 answers a Status-Server (at most 60 s), or dies if $2 (its PID) exits.
wait_ready() {
    local server=$1 pid=$2 accepted
    for _ in $(seq 120); do
        kill -0 "$pid" 2>/dev/null || die "the server at $server (PID $pid) exited while starting"
        accepted=$("$LOAD" run --server "$server" --users 1 --mode status-server --requests 1 --concurrency 1 \
            --duration 1s --timeout 400ms --progress 0 --allow-missing-message-authenticator 2>/dev/null | tail -n 1 | jq -r '.accept' || true)
        [ "$accepted" = 1 ] && return 0
        sleep 0.5
    done
    die "the server at $server did not answer Status-Server within 60 s"
}

# Sleeps until the current 30-s TOTP step has at least $1 seconds left (so a run does not straddle steps).
ensure_step_room() {
    local left=$((30 - $(date +%s) % 30))
    if [ "$left" -lt "$1" ]; then sleep $((left + 1)); fi
}

# ------------------------------------------------------------------------------------------ load runs
RESULTS=$OUT/results.tsv
# A process whose CPU is shared work of every run (slapd in --ldap): its µs per reply is column 13.
SIDE_PID=
# One load run against the server process $2: label $1, the rest are radius_load run arguments. Users come in
# radius_load's scattered order (--scattered): in a row they would share database pages, which no gateway does.
# Appends a row: label, mode, replies/s, p50, p99, server CPU µs/reply, accept, reject, timeouts, bad, double
# accepts, load generator CPU µs/reply.
load_run() {
    local label=$1 pid=$2
    shift 2
    local before after status=0 json answered cpu_us load_us side_before=0 side_after=0 side_us=-
    mkdir -p "$(dirname "$OUT/$label")"
    [ -z "$SIDE_PID" ] || side_before=$(cpu_ticks "$SIDE_PID")
    before=$(cpu_ticks "$pid")
    local TIMEFORMAT='%U %S'
    { time timeout 300 "$LOAD" run --progress 0 --scattered "$@" >"$OUT/$label.out" 2>"$OUT/$label.err" || status=$?; } \
        2>"$OUT/$label.time"
    after=$(cpu_ticks "$pid")
    [ -z "$SIDE_PID" ] || side_after=$(cpu_ticks "$SIDE_PID")
    json=$(tail -n 1 "$OUT/$label.out")
    if ! jq -e . >/dev/null 2>&1 <<<"$json"; then
        echo "  $label: no result (exit $status):" >&2
        tail -n 5 "$OUT/$label.err" >&2
        return 0
    fi
    echo "$json" >"$OUT/$label.json"
    answered=$(jq '.accept + .reject + .challenge' <<<"$json")
    cpu_us=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$answered" \
        'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }')
    load_us=$(awk -v n="$answered" '{ if (n > 0) printf "%.1f", ($1 + $2) * 1e6 / n; else print "-" }' "$OUT/$label.time")
    [ -z "$SIDE_PID" ] || side_us=$(awk -v t=$((side_after - side_before)) -v hz="$CLK_TCK" -v n="$answered" \
        'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }')
    jq -r --arg name "$label" --arg cpu "$cpu_us" --arg load "$load_us" --arg side "$side_us" \
        '[$name, .mode, .rps, .p50_ms, .p99_ms, $cpu, .accept, .reject, .timeouts, .bad, (.double_accepts // "-"), $load,
          $side] | @tsv' <<<"$json" >>"$RESULTS"
    jq -r --arg name "$label" --arg cpu "$cpu_us" --arg side "$side_us" \
        '"  \($name): \(.rps) replies/s, accept \(.accept) reject \(.reject) timeouts \(.timeouts) bad \(.bad), p99 \(.p99_ms) ms, \($cpu) µs CPU/reply" +
         (if $side == "-" then "" else " (+ slapd \($side) µs)" end)' \
        <<<"$json" >&2
    [ "$status" = 0 ] || echo "  $label: radius_load exited $status (4: a bad reply or a double accept)" >&2
}

field() { awk -F'\t' -v l="$1" -v c="$2" '$1 == l { print $c }' "$RESULTS"; }
# Half of the replies/s of row $1 (nothing if that row is missing).
half_rate() { # peak-label
    local peak
    peak=$(field "$1" 3)
    [ -n "$peak" ] && awk -v p="$peak" 'BEGIN { printf "%.0f", p / 2 }'
}
# replies/s of the runs labelled $1-1 ... $1-SMALL_BURSTS: each, and their median.
each_of() { local b; for b in $(seq "$SMALL_BURSTS"); do field "$1-$b" 3; done | paste -sd ' ' -; }
median_of() { each_of "$1" | tr ' ' '\n' | sort -g | awk 'NF { v[++n] = $1 } END { if (n) print v[int((n + 1) / 2)] }'; }

# ------------------------------------------------------------------------------------------- servers
start_null() {
    local port=$1
    "$NULL" --listen "127.0.0.1:$port" --threads 2 --duration-secs 900 >"$TMP/null.log" 2>&1 &
    NULL_PID=$!
    PIDS+=("$NULL_PID")
    wait_ready "127.0.0.1:$port" "$NULL_PID"
}

# A FreeRADIUS virtual server $1 on port $2: authorize and authenticate from stdin, a signed reply.
fr_virtual_server() {
    cat <<EOF
server $1 {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $2
		recv_buff = 4194304
	}
$(cat)
	post-auth {
		update reply {
			&Message-Authenticator := 0x00
		}
		Post-Auth-Type REJECT {
			update reply {
				&Message-Authenticator := 0x00
			}
		}
	}
}
EOF
}

# radiusd.conf up to the modules, for a private raddb in $1: 4 threads, reject_delay 0, the same client secret
# as motpd, Message-Authenticator required.
fr_main_conf() {
    local dir=$1
    cat <<EOF
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = $dir/log
raddbdir = $dir/raddb
radacctdir = \${logdir}/radacct
name = freeradius
confdir = \${raddbdir}
modconfdir = \${confdir}/mods-config
run_dir = $dir/run
db_dir = \${raddbdir}
libdir = /usr/lib/freeradius
pidfile = \${run_dir}/\${name}.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1048576
hostname_lookups = no
log {
	destination = stderr
	colourise = no
	auth = no
	auth_badpass = no
	auth_goodpass = no
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = yes
}
thread pool {
	start_servers = 4
	max_servers = 4
	min_spare_servers = 4
	max_spare_servers = 4
	max_requests_per_server = 0
	max_queue_size = 65536
}
client loopback {
	ipaddr = 127.0.0.0/8
	secret = $SECRET
	require_message_authenticator = yes
}
EOF
}

write_raddb() {
    local dir=$TMP/freeradius pap_port=$1 totp_port=$2
    mkdir -p "$dir/raddb" "$dir/log" "$dir/run"
    echo '# The dictionaries shipped with FreeRADIUS only.' >"$dir/raddb/dictionary"
    cp "$TMP/population/freeradius-users" "$dir/users"
    {
        echo '# Private raddb of benches/compare.sh: FreeRADIUS tuned as in issue #6 (4 threads, reject_delay 0, 4 MiB'
        echo '# receive buffer), the same client secret and users as motpd, PAP cleartext and rlm_totp.'
        fr_main_conf "$dir"
        cat <<EOF
modules {
	files {
		filename = $dir/users
	}
	pap {
	}
	totp {
	}
}
EOF
        fr_virtual_server pap "$pap_port" <<'EOF'
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
EOF
        # rlm_totp reads the code from TOTP-Password and the base32 seed from control:TOTP-Secret (set by the
        # users file); SHA1, 6 digits, 30 s, the current step only, no replay state.
        fr_virtual_server totp "$totp_port" <<'EOF'
	authorize {
		files
		update request {
			&TOTP-Password := &User-Password
		}
		update control {
			&Auth-Type := totp
		}
	}
	authenticate {
		Auth-Type totp {
			totp
		}
	}
EOF
    } >"$dir/raddb/radiusd.conf"
}

start_freeradius() {
    write_raddb "$1" "$2"
    freeradius -f -d "$TMP/freeradius/raddb" >"$TMP/freeradius/log/stderr" 2>&1 &
    FR_PID=$!
    PIDS+=("$FR_PID")
    wait_ready "127.0.0.1:$1" "$FR_PID"
}

# A motpd site in $1 on database URL $2 answering on port $3 (web on $4), clients 127.0.0.1 (otp-only) and
# 127.0.0.2 (password+otp), accounts from users.csv and devices.csv in $5.
# The [admin] listener with metrics recorded as in production, on a port the kernel picks (two nodes run side by
# side); left out for a --baseline binary that predates it (its configuration refuses unknown sections).
admin_section() {
    if "$MOTPD" serve --help >/dev/null 2>&1 && "$MOTPD" config --help >/dev/null 2>&1; then
        printf '[admin]\nlisten = "127.0.0.1:0"\n'
    fi
}

provision_motpd() {
    local dir=$1 url=$2 port=$3 web=$4 files=$5
    mkdir -p "$dir"
    cat >"$dir/motpd.toml" <<EOF
# benches/compare.sh: motpd with its defaults, on free loopback ports, accounting off, quiet log.
[database]
url = "$url"
[radius]
listen = ["127.0.0.1:$port"]
accounting_listen = []
[web]
listen = "127.0.0.1:$web"
$(admin_section)
[policy]
# Accounts without a device log in with their password alone (password-only) until this date.
enforce_after = "2099-01-01"
[log]
# Quiet like the FreeRADIUS side (auth logging off): no line per decision; the RADIUS counters (with shed=) and the
# store's summary at shutdown (batch sizes and times) stay.
level = "warn,motpd::server::radius=info,motpd::store=info"
${MOTPD_EXTRA_CONFIG:-}
EOF
    (
        cd "$dir"
        "$MOTPD" init >/dev/null
        printf '%s' "$SECRET" | "$MOTPD" client add otp --address 127.0.0.1/32 --secret-stdin --mode otp-only >/dev/null
        printf '%s' "$SECRET" | "$MOTPD" client add pw --address 127.0.0.2/32 --secret-stdin --mode password+otp >/dev/null
        local t0 t1 t2
        t0=$(date +%s.%N)
        "$MOTPD" user import "$files/users.csv" >"$dir/import-users.log"
        t1=$(date +%s.%N)
        "$MOTPD" device import "$files/devices.csv" >"$dir/import-devices.log"
        t2=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$(($(wc -l <"$files/users.csv") - 1))" \
            'BEGIN { printf "  imported %d accounts in %.1f s and their devices in %.1f s\n", n, b - a, c - b }' >&2
    )
}

start_motpd() { # dir port → MOTPD_PID
    (cd "$1" && exec "$MOTPD" serve >"$1/serve.log" 2>&1) &
    MOTPD_PID=$!
    PIDS+=("$MOTPD_PID")
    wait_ready "127.0.0.1:$2" "$MOTPD_PID"
}

# Creates the database $1 and sets PG_DB_URL to it; cleanup drops it. (Not called as `$(...)`: in a subshell
# the name would never reach PG_DATABASES, and cleanup would leave the database behind.)
create_pg_database() {
    local name=$1
    psql -q "$PG_SERVER/postgres" -c "CREATE DATABASE $name" >/dev/null || return 1
    PG_DATABASES+=("$name")
    PG_DB_URL="$PG_SERVER/$name"
}

# ------------------------------------------------------------------------------------------ --ldap
# One slapd holds the passwords of both servers: FreeRADIUS rlm_ldap and motpd password_source = "ldap".
LDAP_ENV=()
start_directory() { # users → SLAPD_PID, and the variables slapd.sh prints (LDAPS_URL, CA_FILE, BIND_DN, ...)
    local line
    bash "$REPO/tests/ldap/slapd.sh" setup --users "$1" --dir "$TMP/slapd" >"$TMP/slapd.env" 2>"$OUT/slapd-setup.err" ||
        die "tests/ldap/slapd.sh setup failed: $(tail -n 3 "$OUT/slapd-setup.err")"
    while IFS= read -r line; do
        case $line in
            PID=* | LDAPS_URL=* | CA_FILE=* | BIND_DN=* | BIND_PASSWORD_FILE=* | BASE_DN=*) LDAP_ENV+=("$line") ;;
        esac
    done <"$TMP/slapd.env"
    local PID= LDAPS_URL= CA_FILE= BIND_DN= BIND_PASSWORD_FILE= BASE_DN=
    for line in "${LDAP_ENV[@]}"; do printf -v "${line%%=*}" '%s' "${line#*=}"; done
    [ -n "$PID" ] && [ -n "$LDAPS_URL" ] || die "tests/ldap/slapd.sh printed no PID or LDAPS_URL"
    SLAPD_PID=$PID SLAPD_URL=$LDAPS_URL SLAPD_CA=$CA_FILE SLAPD_BIND_DN=$BIND_DN
    SLAPD_BIND_PASSWORD_FILE=$BIND_PASSWORD_FILE SLAPD_BASE_DN=$BASE_DN
    PIDS+=("$SLAPD_PID")
}

# FreeRADIUS on port $1 with rlm_ldap: authorize searches the user as the service account (a pool of LDAP_POOL
# connections over ldaps, the test CA required), authenticate binds as the user with the password the request
# carries. Entries with userAccountControl 514 (disabled) are not found, as an AD filter would leave them out.
write_raddb_ldap() {
    local dir=$TMP/freeradius-ldap port=$1
    mkdir -p "$dir/raddb" "$dir/log" "$dir/run"
    echo '# The dictionaries shipped with FreeRADIUS only.' >"$dir/raddb/dictionary"
    {
        echo '# Private raddb of benches/compare.sh --ldap: rlm_ldap against the slapd of tests/ldap/slapd.sh.'
        fr_main_conf "$dir"
        cat <<EOF
modules {
	ldap {
		server = '$SLAPD_URL'
		identity = '$SLAPD_BIND_DN'
		password = '$(cat "$SLAPD_BIND_PASSWORD_FILE")'
		base_dn = '$SLAPD_BASE_DN'
		user {
			base_dn = "\${..base_dn}"
			filter = "(&(objectClass=user)(sAMAccountName=%{%{Stripped-User-Name}:-%{User-Name}})(!(userAccountControl=514)))"
			scope = 'sub'
		}
		options {
			chase_referrals = no
			res_timeout = 1
			srv_timelimit = 1
			net_timeout = 1
		}
		tls {
			ca_file = '$SLAPD_CA'
			require_cert = 'demand'
		}
		pool {
			start = $LDAP_POOL
			min = $LDAP_POOL
			max = $LDAP_POOL
			spare = $LDAP_POOL
			uses = 0
			retry_delay = 1
			lifetime = 0
			idle_timeout = 0
		}
	}
}
EOF
        fr_virtual_server ldap "$port" <<'EOF'
	authorize {
		ldap
		if ((ok || updated) && User-Password) {
			update control {
				&Auth-Type := ldap
			}
		}
	}
	authenticate {
		Auth-Type ldap {
			ldap
		}
	}
EOF
    } >"$dir/raddb/radiusd.conf"
}

start_freeradius_ldap() { # port → FR_PID
    write_raddb_ldap "$1"
    freeradius -f -d "$TMP/freeradius-ldap/raddb" >"$TMP/freeradius-ldap/log/stderr" 2>&1 &
    FR_PID=$!
    PIDS+=("$FR_PID")
    wait_ready "127.0.0.1:$1" "$FR_PID"
}

# The [accounts] and [ldap] sections of a motpd site checking passwords against the same slapd.
motpd_ldap_config() {
    cat <<EOF
[accounts]
password_source = "ldap"
[ldap]
urls = ["$SLAPD_URL"]
ca_file = "$SLAPD_CA"
bind_dn = "$SLAPD_BIND_DN"
bind_password_file = "$SLAPD_BIND_PASSWORD_FILE"
base_dn = "$SLAPD_BASE_DN"
pool_size = $LDAP_POOL
EOF
}

ldap_compare() {
    # Users 11 ... LDAP_USERS (1-10 are slapd.sh's special cases: disabled, expired, locked); every 100th is
    # disabled and refused by both servers.
    local first=11 users=$((LDAP_USERS - 10)) port rate seconds
    say "slapd with $LDAP_USERS users (tests/ldap/slapd.sh)"
    start_directory "$LDAP_USERS"
    echo "  slapd PID $SLAPD_PID at $SLAPD_URL" >&2
    SIDE_PID=$SLAPD_PID
    "$LOAD" provision --users "$LDAP_USERS" --names directory --hash-cost fast --no-totp-secret --out "$TMP/ldap-population" \
        2>"$OUT/provision-ldap.err" >/dev/null
    # motpd never holds a directory password: the accounts and their devices, no password hash.
    # (The hash is the last column, quoted; the six before it hold no comma.)
    { head -n 1 "$TMP/ldap-population/users.csv"; tail -n +2 "$TMP/ldap-population/users.csv" | cut -d, -f1-6 | sed 's/$/,/'; } \
        >"$TMP/ldap-population/users-nohash.csv"
    mv "$TMP/ldap-population/users-nohash.csv" "$TMP/ldap-population/users.csv"
    local LDAP_COMMON=(--names directory --users "$users" --first-user "$first" "${COMMON[@]}")

    say "FreeRADIUS $(fr_version) rlm_ldap (password only; a pool of $LDAP_POOL LDAP connections)"
    port=$(free_port)
    start_freeradius_ldap "$port"
    # The same requests as motpd's burst: every user once.
    load_run freeradius-ldap/burst "$FR_PID" --server "127.0.0.1:$port" --mode password-only \
        --requests "$users" --duration "${BURST_SECONDS}s" "${LDAP_COMMON[@]}"
    rate=$(half_rate freeradius-ldap/burst)
    if [ -n "$rate" ]; then
        load_run freeradius-ldap/half-peak "$FR_PID" --server "127.0.0.1:$port" --mode password-only \
            --rate "$rate" --duration "${RUN_SECONDS}s" --timeline "$OUT/freeradius-ldap/half-peak.timeline.csv" \
            "${LDAP_COMMON[@]}"
    fi
    stop_pid "$FR_PID"

    say "motpd password+otp, password_source = \"ldap\" (SQLite; pool_size $LDAP_POOL)"
    port=$(free_port)
    MOTPD_EXTRA_CONFIG=$(motpd_ldap_config)
    provision_motpd "$TMP/motpd-ldap" "sqlite://motpd.db" "$port" "$(free_port)" "$TMP/ldap-population"
    MOTPD_EXTRA_CONFIG=
    start_motpd "$TMP/motpd-ldap" "$port"
    # Each user once within one step (a code is accepted once).
    ensure_step_room $((BURST_SECONDS + 2))
    load_run motpd-ldap/burst "$MOTPD_PID" --server "127.0.0.1:$port" --source 127.0.0.2 --mode password+otp \
        --duration "${BURST_SECONDS}s" "${LDAP_COMMON[@]}"
    rate=$(half_rate motpd-ldap/burst)
    if [ -n "$rate" ]; then
        seconds=$(awk -v r="$rate" -v u="$users" -v s="$RUN_SECONDS" 'BEGIN { t = u / r; if (t > s) t = s; printf "%.1f", t }')
        load_run motpd-ldap/half-peak "$MOTPD_PID" --server "127.0.0.1:$port" --source 127.0.0.2 --mode password+otp \
            --rate "$rate" --duration "${seconds}s" --align-step --timeline "$OUT/motpd-ldap/half-peak.timeline.csv" \
            "${LDAP_COMMON[@]}"
    fi
    # The control: the same site, users and burst in otp-only mode (from the otp-only client), so no directory
    # round trip; the server CPU per reply above this one is what the directory costs motpd.
    load_run motpd-ldap/otp-only "$MOTPD_PID" --server "127.0.0.1:$port" --mode otp-only --align-step \
        --duration "${BURST_SECONDS}s" "${LDAP_COMMON[@]}"
    stop_pid "$MOTPD_PID"
    cp "$TMP/motpd-ldap/serve.log" "$OUT/motpd-ldap-serve.log"
    SIDE_PID=
    stop_pid "$SLAPD_PID"
}

ldap_report() {
    echo
    echo "Passwords checked by one slapd (ldaps, test CA): FreeRADIUS rlm_ldap (password only: it has no OTP) and"
    echo "motpd password+otp with password_source = \"ldap\" on SQLite; $((LDAP_USERS - 10)) users, each once per burst,"
    echo "$CONCURRENCY outstanding; half-peak = open loop at half of the server's own burst rate. CPU = µs per reply"
    echo "(server, and slapd for the same replies). Ratio: motpd ÷ FreeRADIUS, replies/s of the same row kind."
    echo "otp-only: the control, motpd's same site and burst with the code alone (a directory search, no bind)."
    echo
    printf '| %-16s | %-10s | %10s | %7s | %7s | %8s | %8s | %7s | %7s | %6s |\n' \
        server run replies/s "p50 ms" "p99 ms" "CPU µs" "slapd µs" accept reject "÷ FR"
    echo '|------------------|------------|-----------:|--------:|--------:|---------:|---------:|--------:|--------:|-------:|'
    local row kind fr
    for row in freeradius-ldap/burst motpd-ldap/burst freeradius-ldap/half-peak motpd-ldap/half-peak \
        motpd-ldap/otp-only; do
        [ -n "$(field "$row" 1)" ] || continue
        kind=${row#*/}
        fr=$(field "freeradius-ldap/$kind" 3) # (none for otp-only: the control has no FreeRADIUS row)
        awk -F'\t' -v row="$row" -v fr="${fr:-0}" '
            $1 == row {
                split(row, p, "/")
                rfr = fr > 0 ? sprintf("%.2f", $3 / fr) : "-"
                printf "| %-16s | %-10s | %10.0f | %7.3f | %7.3f | %8s | %8s | %7s | %7s | %6s |\n", p[1], p[2], $3, $4, $5, $6, $13, $7, $8, rfr
            }' "$RESULTS"
    done
    echo
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ------------------------------------------------------------------------------------------- the run
mkdir -p "$OUT"
: >"$RESULTS"
: >"$OUT/hash-bound.txt"
: >"$OUT/rss.txt"
install_missing
cd "$REPO"
say "building release binaries"
cargo build --release --quiet --bin motpd --example radius_load --example null_responder
[ "$LDAP" = 1 ] || cargo bench --quiet --bench password --no-run 2>/dev/null
TARGET=${CARGO_TARGET_DIR:-$REPO/target}/release
MOTPD=$TARGET/motpd
LOAD=$TARGET/examples/radius_load
NULL=$TARGET/examples/null_responder

say "machine"
{
    echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu:         $(nproc) × $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "memory:      $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel:      $(uname -sr)"
    echo "freeradius:  $(fr_version)"
    echo "postgresql:  $(psql -tA "$PG_SERVER/postgres" -c 'SHOW server_version' 2>/dev/null || echo unreachable)"
    echo "motpd:       $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "rmem_max:    $(cat /proc/sys/net/core/rmem_max)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "command:     bash benches/compare.sh $([ "$QUICK" = 1 ] && echo --quick) $([ "$LDAP" = 1 ] && echo --ldap)"
    if [ "$LDAP" = 1 ]; then echo "slapd:       $(dpkg-query -W -f '${Version}' slapd 2>/dev/null || echo '?')"; fi
} | tee "$OUT/machine.txt" >&2

if [ "$LDAP" = 1 ]; then
    COMMON=(--concurrency "$CONCURRENCY")
    ldap_compare
    ldap_report | tee "$OUT/table.md"
    echo "results: $OUT (table.md, results.tsv, one JSON per run, server logs)" >&2
    exit 0
fi

say "provisioning $TOTAL users ($FULL_COST at motpd's Argon2id cost)"
"$LOAD" provision --users "$FULL_COST" --out "$TMP/full" 2>"$OUT/provision-full.err" >/dev/null
sed -nE 's/.*(hashed in .*)/  default-cost hashes: \1/p' "$OUT/provision-full.err" >&2
"$LOAD" provision --users "$TOTAL" --hash-cost fast --out "$TMP/fast" 2>"$OUT/provision-fast.err" >/dev/null
sed -nE 's/.*(hashed in .*)/  fast hashes: \1/p' "$OUT/provision-fast.err" >&2
P=$TMP/population
mkdir -p "$P"
# users.csv: the header and users 1..FULL_COST from the default-cost file, the rest from the fast file.
{ head -n $((FULL_COST + 1)) "$TMP/full/users.csv"; tail -n +$((FULL_COST + 2)) "$TMP/fast/users.csv"; } >"$P/users.csv"
# devices.csv: everyone but the password-only accounts (lines PWONLY_FIRST+1 .. OTP_FIRST).
awk -v a=$((PWONLY_FIRST + 1)) -v b="$OTP_FIRST" 'NR < a || NR > b' "$TMP/fast/devices.csv" >"$P/devices.csv"
cp "$TMP/fast/freeradius-users" "$P/freeradius-users"
# The 1,000-account site: header and the first SMALL_USERS otp-only users.
S=$TMP/small-population
mkdir -p "$S"
{ head -n 1 "$P/users.csv"; sed -n "$((OTP_FIRST + 1)),$((OTP_FIRST + SMALL_USERS))p" "$P/users.csv"; } >"$S/users.csv"
{ head -n 1 "$P/devices.csv"; grep -F -f <(cut -d, -f1 "$S/users.csv" | tail -n +2 | sed 's/$/,/') "$P/devices.csv"; } >"$S/devices.csv"
# The two-node site: the first DUAL_USERS otp-only users.
D=$TMP/dual-population
mkdir -p "$D"
{ head -n 1 "$P/users.csv"; sed -n "$((OTP_FIRST + 1)),$((OTP_FIRST + DUAL_USERS))p" "$P/users.csv"; } >"$D/users.csv"
{ head -n 1 "$P/devices.csv"; grep -F -f <(cut -d, -f1 "$D/users.csv" | tail -n +2 | sed 's/$/,/') "$P/devices.csv"; } >"$D/devices.csv"
rm -rf "$TMP/full" "$TMP/fast"

COMMON=(--concurrency "$CONCURRENCY")
otp_burst() { # label pid server: the peak, a burst over the whole otp population within one step
    ensure_step_room $((BURST_SECONDS + 2))
    load_run "$1" "$2" --server "$3" --mode otp-only --users "$USERS" --first-user "$OTP_FIRST" \
        --duration "${BURST_SECONDS}s" "${COMMON[@]}"
}
pap_run() { # label pid server [source]
    load_run "$1" "$2" --server "$3" --mode password-only --users "$PWONLY_USERS" --first-user "$PWONLY_FIRST" \
        --duration "${RUN_SECONDS}s" ${4:+--source "$4"} "${COMMON[@]}"
}
# otp-only at $4 requests/s (open loop), in a fresh step, for the p99 at that load; with --timeline, every
# reply's send time and latency in $OUT/<label>.timeline.csv (are the slow ones clustered?).
rate_run() { # label pid server rate
    local seconds
    # Leave the last SMALL_BURSTS × SMALL_USERS users of the population fresh for the 1,000-account comparison.
    seconds=$(awk -v r="$4" -v u=$((USERS - SMALL_BURSTS * SMALL_USERS - 100)) -v s="$RUN_SECONDS" \
        'BEGIN { t = u / r; if (t > s) t = s; printf "%.1f", t }')
    load_run "$1" "$2" --server "$3" --mode otp-only --users $((USERS - SMALL_BURSTS * SMALL_USERS - 100)) \
        --first-user "$OTP_FIRST" --rate "$4" --duration "${seconds}s" --align-step \
        --timeline "$OUT/$1.timeline.csv" "${COMMON[@]}"
}
# otp-only at half of the peak of row $4.
half_peak() { # label pid server peak-label
    local rate
    rate=$(half_rate "$4")
    [ -n "$rate" ] || return 0
    rate_run "$1" "$2" "$3" "$rate"
}
# The hashing bound now, as the issue defines it: cores ÷ the time of one verify, measured by the bench — the
# criterion bench `password` (Argon2id verify at motpd's cost, alone on an otherwise idle machine: the server under
# test is idle between runs); its estimate is appended to $OUT/hash-bound.txt. It times the verify motpd's hashing
# threads run, `argon2id_verify_reusing` (the working memory kept from the previous verify), the faster of the two
# the bench has: the stricter bound. (Not `radius_load provision`'s time: it counts each process's page faults and
# start-up.)
hash_bound() { # label
    local ms
    ms=$(cargo bench --quiet --bench password -- --noplot argon2id_verify_reusing 2>/dev/null |
        sed -nE 's/^argon2id_verify_reusing +time: +\[[0-9.]+ ms ([0-9.]+) ms .*/\1/p')
    [ -n "$ms" ] || die "cannot read the time of one Argon2id verify from cargo bench --bench password"
    # label, ms per verify, verifies per second on every core
    awk -v l="$1" -v ms="$ms" -v cores="$(nproc)" 'BEGIN { printf "%s\t%.2f\t%.1f\n", l, ms, cores * 1000 / ms }' \
        >>"$OUT/hash-bound.txt"
}
# password+otp from the password+otp client, with a Status-Server and an otp-only probe (from the otp-only client).
pwotp_run() { # label pid server
    hash_bound "$1/before"
    load_run "$1" "$2" --server "$3" --source 127.0.0.2 --mode password+otp --users "$PWOTP_USERS" \
        --first-user "$PWOTP_FIRST" --sustained --duration "${PWOTP_SECONDS}s" --concurrency 16 \
        --probe status-server --probe otp-only --probe-rate 20 --probe-source 127.0.0.1 \
        --probe-first-user "$PROBE_FIRST" --probe-users "$PROBE_USERS"
    hash_bound "$1/after"
}

say "no-work responder (the ceiling)"
PORT=$(free_port)
start_null "$PORT"
otp_burst null/otp-only "$NULL_PID" "127.0.0.1:$PORT"
pap_run null/password-only "$NULL_PID" "127.0.0.1:$PORT"
stop_pid "$NULL_PID"

say "FreeRADIUS $(fr_version) (rlm_totp, PAP)"
PAP_PORT=$(free_port)
TOTP_PORT=$(free_port)
start_freeradius "$PAP_PORT" "$TOTP_PORT"
otp_burst freeradius/otp-only "$FR_PID" "127.0.0.1:$TOTP_PORT"
pap_run freeradius/password-only "$FR_PID" "127.0.0.1:$PAP_PORT"
stop_pid "$FR_PID"

motpd_suite() { # name url
    local name=$1 url=$2 port web dir
    port=$(free_port)
    web=$(free_port)
    dir=$TMP/$name
    say "motpd on $name ($USERS + $((TOTAL - USERS)) accounts)"
    provision_motpd "$dir" "$url" "$port" "$web" "$P"
    start_motpd "$dir" "$port"
    otp_burst "$name/otp-only" "$MOTPD_PID" "127.0.0.1:$port"
    echo "$name $(rss_kib "$MOTPD_PID" VmRSS) $(rss_kib "$MOTPD_PID" VmHWM)" >>"$OUT/rss.txt"
    half_peak "$name/otp-only-half-peak" "$MOTPD_PID" "127.0.0.1:$port" "$name/otp-only"
    # Bursts of 1,000 fresh users of the large site (the end of the population), for the comparison with a
    # small site.
    local burst
    for burst in $(seq "$SMALL_BURSTS"); do
        load_run "$name/otp-only-1k-burst-$burst" "$MOTPD_PID" --server "127.0.0.1:$port" --mode otp-only \
            --users "$SMALL_USERS" --first-user $((OTP_FIRST + USERS - burst * SMALL_USERS)) --duration 10s "${COMMON[@]}"
    done
    pap_run "$name/password-only" "$MOTPD_PID" "127.0.0.1:$port" 127.0.0.2
    pwotp_run "$name/password+otp" "$MOTPD_PID" "127.0.0.1:$port"
    # The hashing threads give their Argon2 memory back after 1 s without work.
    sleep 2
    echo "$name-after-passwords $(rss_kib "$MOTPD_PID" VmRSS) $(rss_kib "$MOTPD_PID" VmHWM)" >>"$OUT/rss.txt"
    stop_pid "$MOTPD_PID"
    grep -o 'shed=[0-9]*' "$dir/serve.log" | tail -n 1 | cut -d= -f2 >"$OUT/$name-shed.txt" || true
    cp "$dir/serve.log" "$OUT/$name-serve.log"
}

motpd_suite sqlite "sqlite://motpd.db"
PG_OK=0
if create_pg_database "motpd_compare_$$"; then
    PG_URL=$PG_DB_URL
    PG_OK=1
    motpd_suite postgres "$PG_URL"
else
    echo "compare.sh: PostgreSQL at $PG_SERVER is unreachable: the PostgreSQL rows are SKIPPED" >&2
fi

if [ -n "$BASELINE" ]; then
    CURRENT=$MOTPD
    MOTPD=$(realpath "$BASELINE")
    motpd_suite before-sqlite "sqlite://motpd.db"
    if [ "$PG_OK" = 1 ] && create_pg_database "motpd_before_$$"; then
        motpd_suite before-postgres "$PG_DB_URL"
    fi
    MOTPD=$CURRENT
fi

# The controls of the half-peak p99: the no-work responder and FreeRADIUS at the very rate of motpd SQLite's
# half-peak run. Neither keeps state on disk, so their p99 at that rate is what this machine (its scheduler, the
# hypervisor's steal, the load tool) gives any server; motpd's tail above it is motpd's own.
CONTROL_RATE=$(half_rate sqlite/otp-only)
if [ -n "$CONTROL_RATE" ]; then
    say "the no-work responder and FreeRADIUS at motpd SQLite's half-peak rate ($CONTROL_RATE/s)"
    PORT=$(free_port)
    start_null "$PORT"
    rate_run null/otp-only-half-peak "$NULL_PID" "127.0.0.1:$PORT" "$CONTROL_RATE"
    stop_pid "$NULL_PID"
    PAP_PORT=$(free_port)
    TOTP_PORT=$(free_port)
    start_freeradius "$PAP_PORT" "$TOTP_PORT"
    rate_run freeradius/otp-only-half-peak "$FR_PID" "127.0.0.1:$TOTP_PORT" "$CONTROL_RATE"
    stop_pid "$FR_PID"
fi

say "motpd on SQLite with $SMALL_USERS accounts"
PORT=$(free_port)
provision_motpd "$TMP/small" "sqlite://motpd.db" "$PORT" "$(free_port)" "$S"
start_motpd "$TMP/small" "$PORT"
# Every burst uses each of the site's accounts once, so each waits for a step of its own. The server is idle
# meanwhile, and a burst of tens of milliseconds right after an idle wait ran at half the rate of the same burst
# on a busy server (the large site's bursts follow its other runs). So each wait ends with a warm-up like the
# large site's runs: otp-only for accounts this site does not have (rejected after the account lookup; no code
# is used up), then the burst in the same step.
for burst in $(seq "$SMALL_BURSTS"); do
    load_run "small/warm-up-$burst" "$MOTPD_PID" --server "127.0.0.1:$PORT" --mode otp-only --users "$SMALL_USERS" \
        --first-user $((OTP_FIRST + SMALL_USERS)) --duration 10s --align-step "${COMMON[@]}"
    load_run "small/otp-only-1k-burst-$burst" "$MOTPD_PID" --server "127.0.0.1:$PORT" --mode otp-only \
        --users "$SMALL_USERS" --first-user "$OTP_FIRST" --duration 10s "${COMMON[@]}"
done
echo "small $(rss_kib "$MOTPD_PID" VmRSS) $(rss_kib "$MOTPD_PID" VmHWM)" >>"$OUT/rss.txt"
stop_pid "$MOTPD_PID"

if [ "$PG_OK" = 1 ] && create_pg_database "motpd_compare_dual_$$"; then
    DUAL_URL=$PG_DB_URL
    say "two motpd nodes on one PostgreSQL database, every code sent to both ($DUAL_USERS accounts)"
    A=$(free_port)
    B=$(free_port)
    provision_motpd "$TMP/node-a" "$DUAL_URL" "$A" "$(free_port)" "$D"
    # Node B shares the database and the key file; it is not provisioned again.
    mkdir -p "$TMP/node-b"
    # The web listener gets a port of its own; the admin listener's kernel-picked port (":0") stays.
    sed -e "s/127.0.0.1:$A/127.0.0.1:$B/" \
        -e "/^listen = \"127.0.0.1:0\"/!s/^listen = \"127.0.0.1:.*\"/listen = \"127.0.0.1:$(free_port)\"/" \
        "$TMP/node-a/motpd.toml" >"$TMP/node-b/motpd.toml"
    cp -p "$TMP/node-a/motpd.key" "$TMP/node-b/motpd.key"
    start_motpd "$TMP/node-a" "$A"
    NODE_A=$MOTPD_PID
    start_motpd "$TMP/node-b" "$B"
    ensure_step_room $((BURST_SECONDS + 2))
    load_run dual/otp-only "$NODE_A" --server "127.0.0.1:$A" --dual "127.0.0.1:$B" --mode otp-only --users "$DUAL_USERS" \
        --first-user "$OTP_FIRST" --duration "${BURST_SECONDS}s" "${COMMON[@]}"
    stop_pid "$MOTPD_PID"
    stop_pid "$NODE_A"
fi

# --------------------------------------------------------------------------------------------- report
report() {
    echo
    echo "Same load against each server: $CONCURRENCY outstanding requests; otp-only = a burst over $USERS accounts"
    echo "within one 30-s step; password-only over $PWONLY_USERS accounts for $RUN_SECONDS s. CPU = the server's"
    echo "utime+stime per verified reply (load µs: the load generator's). Ratios: replies/s of the row ÷ FreeRADIUS and"
    echo "÷ the no-work responder, same mode."
    echo
    printf '| %-10s | %-13s | %10s | %7s | %7s | %8s | %8s | %8s | %8s |\n' \
        server mode replies/s "p50 ms" "p99 ms" "CPU µs" "÷ FR" "÷ ceil." "load µs"
    echo '|------------|---------------|-----------:|--------:|--------:|---------:|---------:|---------:|---------:|'
    local row mode fr ceiling
    for row in null/otp-only freeradius/otp-only sqlite/otp-only postgres/otp-only \
        before-sqlite/otp-only before-postgres/otp-only \
        null/password-only freeradius/password-only sqlite/password-only postgres/password-only \
        before-sqlite/password-only before-postgres/password-only \
        sqlite/password+otp postgres/password+otp before-sqlite/password+otp before-postgres/password+otp; do
        [ -n "$(field "$row" 1)" ] || continue
        mode=${row#*/}
        fr=$(field "freeradius/$mode" 3)
        ceiling=$(field "null/$mode" 3)
        awk -F'\t' -v row="$row" -v fr="${fr:-0}" -v ceil="${ceiling:-0}" '
            $1 == row {
                split(row, p, "/")
                name = p[1] == "null" ? "no-work" : p[1]
                rfr = fr > 0 ? sprintf("%.2f", $3 / fr) : "-"
                rce = ceil > 0 ? sprintf("%.3f", $3 / ceil) : "-"
                printf "| %-10s | %-13s | %10.0f | %7.3f | %7.3f | %8s | %8s | %8s | %8s |\n", name, $2, $3, $4, $5, $6, rfr, rce, $12
            }' "$RESULTS"
    done
    echo
    local name bound verify_ms
    for name in sqlite postgres; do
        [ -n "$(field "$name/password+otp" 1)" ] || continue
        # The bound: the mean of the timings just before and just after the run.
        read -r verify_ms bound < <(awk -F'\t' -v n="$name" 'index($1, n "/") == 1 { ms += $2; c++ }
            END { if (c) printf "%.2f %.1f\n", ms / c, '"$(nproc)"' * 1000 * c / ms }' "$OUT/hash-bound.txt")
        jq -r --arg name "$name" --arg bound "$bound" --arg verify "$verify_ms" --arg cpu "$(field "$name/password+otp" 6)" '
            "motpd \($name) password+otp: \(.rps) replies/s = \(((.rps / ($bound | tonumber)) * 1000 | round) / 10) % of the hashing bound \($bound)/s" +
            " (\($ENV.CORES) cores ÷ \($verify) ms per Argon2id verify, criterion); server CPU per reply \(($cpu | tonumber) / 1000) ms =" +
            " \(((($verify | tonumber) * 1000 / ($cpu | tonumber)) * 1000 | round) / 10) % hashing (" +
            "accept \(.accept), reject \(.reject), timeouts \(.timeouts)); probes while hashing: " +
            ([.probes[] | "\(.mode) p99 \(.p99_ms) ms (max \(.max_ms), timeouts \(.timeouts))"] | join(", "))' \
            "$OUT/$name/password+otp.json"
        echo "  requests shed by motpd in the whole $name run (its counters at shutdown): $(cat "$OUT/$name-shed.txt" 2>/dev/null || echo '?')"
        # The store's own summary at shutdown: batch sizes and times (PostgreSQL), the group commit (SQLite).
        for summary in 'login cache and batches' 'SQLite hot path stopped'; do
            grep -F "$summary" "$OUT/$name-serve.log" 2>/dev/null | tail -n 1 |
                sed -E 's/.*(INFO|WARN) [^ ]+: //; s/^/  /' || true
        done
        if [ -n "$(field "$name/otp-only-half-peak" 1)" ]; then
            jq -r --arg name "$name" '"motpd \($name) otp-only at half of the peak (\(.rps) replies/s): p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, max \(.max_ms) ms"' \
                "$OUT/$name/otp-only-half-peak.json"
        fi
        if [ "$name" = sqlite ]; then
            local control
            for control in null freeradius; do
                [ -n "$(field "$control/otp-only-half-peak" 1)" ] || continue
                jq -r --arg name "$([ "$control" = null ] && echo no-work || echo FreeRADIUS)" \
                    '"  control, \($name) at the same rate (\(.rps) replies/s): p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, max \(.max_ms) ms"' \
                    "$OUT/$control/otp-only-half-peak.json"
            done
        fi
    done
    if [ -n "$(field small/otp-only-1k-burst-1 1)" ]; then
        echo "motpd SQLite, 1,000-request otp-only bursts (median of $SMALL_BURSTS; each):" \
            "$(median_of small/otp-only-1k-burst) replies/s on a site of $SMALL_USERS accounts ($(each_of small/otp-only-1k-burst))," \
            "$(median_of sqlite/otp-only-1k-burst) replies/s on a site of $TOTAL accounts ($(each_of sqlite/otp-only-1k-burst))"
    fi
    if [ -f "$OUT/rss.txt" ]; then
        awk '{ site = $1; when = "after the peak burst" }
            sub(/-after-passwords$/, "", site) { when = "2 s after the password+otp run" }
            { printf "motpd serve resident memory %s, %s site: %.1f MiB (peak %.1f MiB)\n", when, site, $2 / 1024, $3 / 1024 }' \
            "$OUT/rss.txt"
    fi
    if [ -n "$(field dual/otp-only 1)" ]; then
        echo "two motpd nodes on PostgreSQL, each code to both: $(field dual/otp-only 7) accepts of $(jq .sent "$OUT/dual/otp-only.json") datagrams," \
            "double accepts: $(field dual/otp-only 11)"
    fi
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
}
report | tee "$OUT/table.md"
echo "results: $OUT (table.md, results.tsv, one JSON per run, server logs)" >&2
