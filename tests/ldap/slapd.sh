#!/usr/bin/env bash
# A throwaway OpenLDAP (Debian slapd) in AD shape, for the directory tests and the benchmark.
#
#   slapd.sh [setup] [--users N] [--dir DIR]   make DIR (default: a new mktemp dir), load N users (default 50),
#                                              start slapd, print KEY=VALUE lines (also kept in DIR/env)
#   slapd.sh start DIR                         start it again: same ports, same data; prints the same lines
#   slapd.sh stop DIR                          stop the slapd this script started in DIR (by its recorded PID)
#
# slapd runs as the calling user on 127.0.0.1 only: ldaps:// on one port, ldap:// (StartTLS) on another, with a
# certificate from a test CA made here. WRONG_CA_FILE is a second CA that signed nothing slapd serves.
#
# Entries (all deterministic, so tests and benchmarks can compute them):
#   BASE_DN (ou=Staff,dc=hospital,dc=test) holds exactly N users, objectClass user (AD attribute names):
#     dn cn=userNNNNN,ou=Staff,...  sAMAccountName userNNNNN  displayName "User NNNNN"  mobile 09 + 8 digits of N
#     mail userNNNNN@hospital.test  password Passw0rd-userNNNNN ({SSHA})  userAccountControl 512
#     memberOf: odd N cn=VPN-Nurses,ou=Groups,...; even N cn=VPN-Doctors,ou=Groups,...; N % 3 == 0 also
#     cn=Staff-All,ou=Groups,... (groupOfNames with member are written too)
#   special cases (when N is large enough):
#     user00002 userAccountControl 514 (ACCOUNTDISABLE), and every user whose number is a multiple of 100
#     user00003 accountExpires 2020-01-01T00:00:00Z (FILETIME: expired)
#     user00004 nsAccountLock TRUE        user00005 pwdAccountLockedTime 000001010000Z (locked by an admin)
#     user00006 accountExpires 2099-12-31T16:00:00Z (FILETIME; the last day 2099-12-31 at UTC+8)
#     user00007 displayName in Chinese (王小明), no mobile
#     every other user: accountExpires 0 when N is odd, 9223372036854775807 when even (both mean "never")
#   ou=Twins,dc=hospital,dc=test: two users with sAMAccountName "twin" (outside BASE_DN; search SUFFIX for them)
#   BIND_DN cn=svc-motpd,ou=Service,dc=hospital,dc=test reads everything but passwords; ADMIN_DN may write.
set -euo pipefail

die() {
  echo "slapd.sh: $*" >&2
  exit 1
}

SUFFIX="dc=hospital,dc=test"
BASE_DN="ou=Staff,$SUFFIX"
BIND_DN="cn=svc-motpd,ou=Service,$SUFFIX"
ADMIN_DN="cn=admin,$SUFFIX"

find_slapd() {
  for candidate in "$(command -v slapd 2>/dev/null || true)" /usr/sbin/slapd /usr/local/sbin/slapd; do
    [[ -n "$candidate" && -x "$candidate" ]] && {
      echo "$candidate"
      return
    }
  done
  return 1
}

install_slapd() {
  find_slapd >/dev/null && command -v ldapwhoami >/dev/null && return
  [[ $(id -u) == 0 ]] || die "slapd or ldap-utils missing: apt-get install slapd ldap-utils"
  echo "slapd.sh: installing slapd ldap-utils" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends slapd ldap-utils >&2 ||
    { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends slapd ldap-utils >&2; } ||
    die "apt-get install slapd ldap-utils failed"
  # A system slapd the package may have started on :389 is left alone: nothing here uses it.
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

make_certificates() {
  local dir=$1
  (
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=motpd test CA" \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/CN=motpd wrong CA" -keyout wrong-ca.key -out wrong-ca.pem 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
      -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile server.ext \
      -out server.pem 2>/dev/null
    rm -f server.csr server.ext ca.srl
    chmod 600 ca.key wrong-ca.key server.key
  )
}

write_schema() {
  cat >"$1/ad-like.schema" <<'EOF'
# The few Active Directory attributes motpd reads, with AD's OIDs (1.2.840.113556), and the OpenLDAP lock flags.
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
	EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
	EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.159 NAME 'accountExpires'
	EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf'
	EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
attributetype ( 2.16.840.1.113730.3.1.610 NAME 'nsAccountLock'
	EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.42.2.27.8.1.17 NAME 'pwdAccountLockedTime'
	EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.96 NAME 'pwdLastSet'
	EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' SUP inetOrgPerson STRUCTURAL
	MAY ( sAMAccountName $ userAccountControl $ accountExpires $ memberOf $ nsAccountLock $
	      pwdAccountLockedTime $ pwdLastSet ) )
EOF
}

write_config() {
  local dir=$1
  cat >"$dir/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include $dir/ad-like.schema

pidfile $dir/slapd.pid
argsfile $dir/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
loglevel none
# As Active Directory (MaxPageSize 1000): more than 1000 entries only through paged results.
sizelimit size.soft=1000 size.hard=1000 size.prtotal=unlimited
disallow bind_anon

TLSCACertificateFile $dir/ca.pem
TLSCertificateFile $dir/server.pem
TLSCertificateKeyFile $dir/server.key

database mdb
suffix "$SUFFIX"
rootdn "$ADMIN_DN"
rootpw $(cat "$dir/admin.hash")
directory $dir/data
maxsize 1073741824
index objectClass eq
index sAMAccountName eq,sub
index cn eq

access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by dn.exact="$BIND_DN" read
  by self read
  by * none
EOF
}

# The LDIF of the tree: python, because slappasswd per user would take minutes for 20,000 entries.
write_ldif() {
  local dir=$1 users=$2
  python3 - "$users" "$SUFFIX" "$BIND_DN" "$(cat "$dir/bind.password")" >"$dir/tree.ldif" <<'EOF'
import base64, hashlib, sys

users, suffix, bind_dn, bind_pw = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
out = sys.stdout

def ssha(password, seed):
    salt = hashlib.sha256(seed.encode()).digest()[:8]
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()

def filetime(unix):
    return (unix + 11644473600) * 10_000_000

def attr(name, value):
    if value.isascii() and not value.startswith((" ", ":", "<")):
        out.write(f"{name}: {value}\n")
    else:
        out.write(f"{name}:: {base64.b64encode(value.encode()).decode()}\n")

out.write(f"dn: {suffix}\nobjectClass: dcObject\nobjectClass: organization\ndc: hospital\no: Hospital\n\n")
for ou in ("Staff", "Groups", "Service", "Twins"):
    out.write(f"dn: ou={ou},{suffix}\nobjectClass: organizationalUnit\nou: {ou}\n\n")
out.write(f"dn: {bind_dn}\nobjectClass: person\ncn: svc-motpd\nsn: service\n")
attr("userPassword", ssha(bind_pw, bind_dn))
out.write("\n")

groups = {name: f"cn={name},ou=Groups,{suffix}" for name in ("VPN-Nurses", "VPN-Doctors", "Staff-All")}
members = {name: [] for name in groups}

def user(dn, sam, number, extra):
    out.write(f"dn: {dn}\n")
    for oc in ("top", "person", "organizationalPerson", "inetOrgPerson", "user"):
        out.write(f"objectClass: {oc}\n")
    out.write(f"cn: {dn.split(',')[0][3:]}\nsn: {sam}\nsAMAccountName: {sam}\n")
    attr("userPassword", ssha(f"Passw0rd-{sam}", dn))
    for name, value in extra:
        attr(name, value)
    out.write("\n")

for n in range(1, users + 1):
    sam = f"user{n:05d}"
    dn = f"cn={sam},ou=Staff,{suffix}"
    mine = ["VPN-Nurses" if n % 2 else "VPN-Doctors"] + (["Staff-All"] if n % 3 == 0 else [])
    for g in mine:
        members[g].append(dn)
    extra = [("displayName", "王小明" if n == 7 else f"User {n:05d}")]
    if n != 7:
        extra.append(("mobile", f"09{n:08d}"))
    extra.append(("mail", f"{sam}@hospital.test"))
    extra.append(("userAccountControl", "514" if n == 2 or n % 100 == 0 else "512"))
    if n == 3:
        expires = filetime(1577836800)  # 2020-01-01T00:00:00Z
    elif n == 6:
        expires = filetime(4102444800 - 8 * 3600)  # 2099-12-31T16:00:00Z = 2100-01-01 00:00 at UTC+8
    else:
        expires = 0 if n % 2 else 9223372036854775807
    extra.append(("accountExpires", str(expires)))
    if n == 4:
        extra.append(("nsAccountLock", "TRUE"))
    if n == 5:
        extra.append(("pwdAccountLockedTime", "000001010000Z"))
    extra += [("memberOf", groups[g]) for g in mine]
    user(dn, sam, n, extra)

for i in (1, 2):
    dn = f"cn=twin{i},ou=Twins,{suffix}"
    user(dn, "twin", 0, [("displayName", f"Twin {i}"), ("userAccountControl", "512")])

for name, dn in groups.items():
    out.write(f"dn: {dn}\nobjectClass: groupOfNames\ncn: {name}\n")
    # groupOfNames needs one member; an empty group gets the service account.
    for m in members[name] or [bind_dn]:
        out.write(f"member: {m}\n")
    out.write("\n")
EOF
}

# Starts slapd on the ports recorded in DIR and waits (10 s at most) until a StartTLS and an ldaps bind work.
start_slapd() {
  local dir=$1
  # shellcheck disable=SC1091
  source "$dir/ports"
  local slapd
  slapd=$(find_slapd) || die "slapd is not installed"
  if [[ -s "$dir/slapd.pid" ]] && kill -0 "$(cat "$dir/slapd.pid")" 2>/dev/null; then
    die "slapd already runs for $dir (PID $(cat "$dir/slapd.pid"))"
  fi
  rm -f "$dir/slapd.pid"
  "$slapd" -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$LDAP_PORT/ ldaps://127.0.0.1:$LDAPS_PORT/" \
    >"$dir/slapd.log" 2>&1 || die "slapd did not start: $(tail -5 "$dir/slapd.log")"
  local waited=0
  until [[ -s "$dir/slapd.pid" ]] &&
    LDAPTLS_CACERT="$dir/ca.pem" LDAPTLS_REQCERT=demand ldapwhoami -x -o nettimeout=1 \
      -H "ldaps://127.0.0.1:$LDAPS_PORT" -D "$BIND_DN" -y "$dir/bind.password" >/dev/null 2>&1 &&
    LDAPTLS_CACERT="$dir/ca.pem" LDAPTLS_REQCERT=demand ldapwhoami -x -ZZ -o nettimeout=1 \
      -H "ldap://127.0.0.1:$LDAP_PORT" -D "$BIND_DN" -y "$dir/bind.password" >/dev/null 2>&1; do
    waited=$((waited + 1))
    if ((waited > 50)); then
      [[ -s "$dir/slapd.pid" ]] && kill "$(cat "$dir/slapd.pid")" 2>/dev/null
      die "slapd did not answer within 10 s: $(tail -5 "$dir/slapd.log")"
    fi
    sleep 0.2
  done
  print_env "$dir" | tee "$dir/env"
}

print_env() {
  local dir=$1
  # shellcheck disable=SC1091
  source "$dir/ports"
  cat <<EOF
DIR=$dir
PID=$(cat "$dir/slapd.pid")
LDAPS_URL=ldaps://127.0.0.1:$LDAPS_PORT
LDAP_URL=ldap://127.0.0.1:$LDAP_PORT
CA_FILE=$dir/ca.pem
WRONG_CA_FILE=$dir/wrong-ca.pem
BIND_DN=$BIND_DN
BIND_PASSWORD_FILE=$dir/bind.password
ADMIN_DN=$ADMIN_DN
ADMIN_PASSWORD_FILE=$dir/admin.password
BASE_DN=$BASE_DN
SUFFIX=$SUFFIX
USERS=$(cat "$dir/users")
EOF
}

stop_slapd() {
  local dir=$1 pid
  [[ -s "$dir/slapd.pid" ]] || return 0
  pid=$(cat "$dir/slapd.pid")
  kill -CONT "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || {
    rm -f "$dir/slapd.pid"
    return 0
  }
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  rm -f "$dir/slapd.pid"
}

setup() {
  local users=50 dir=""
  while (($#)); do
    case $1 in
      --users) users=${2:?--users N}; shift 2 ;;
      --dir) dir=${2:?--dir DIR}; shift 2 ;;
      *) die "unknown argument $1" ;;
    esac
  done
  [[ $users =~ ^[0-9]+$ ]] || die "--users takes a number"
  install_slapd
  if [[ -z $dir ]]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/motpd-slapd.XXXXXX")
  else
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
  fi
  [[ -e "$dir/slapd.conf" ]] && die "$dir already holds a directory: use start or stop"
  mkdir -p "$dir/data"
  chmod 700 "$dir"
  echo "$users" >"$dir/users"
  make_certificates "$dir"
  # No final newline: `ldapwhoami -y` sends the whole file as the password.
  (
    umask 077
    printf %s "$(openssl rand -hex 12)" >"$dir/bind.password"
    printf %s "$(openssl rand -hex 12)" >"$dir/admin.password"
  )
  slappasswd -T "$dir/admin.password" >"$dir/admin.hash" 2>/dev/null ||
    /usr/sbin/slappasswd -T "$dir/admin.password" >"$dir/admin.hash"
  printf 'LDAP_PORT=%s\nLDAPS_PORT=%s\n' "$(free_port)" "$(free_port)" >"$dir/ports"
  write_schema "$dir"
  write_config "$dir"
  write_ldif "$dir" "$users"
  local slapadd
  slapadd=$(command -v slapadd || echo /usr/sbin/slapadd)
  "$slapadd" -q -f "$dir/slapd.conf" -l "$dir/tree.ldif" >"$dir/slapadd.log" 2>&1 ||
    die "slapadd failed: $(tail -5 "$dir/slapadd.log")"
  start_slapd "$dir"
}

case ${1:-setup} in
  setup) shift || true; setup "$@" ;;
  start) start_slapd "${2:?start DIR}" ;;
  stop) stop_slapd "${2:?stop DIR}" ;;
  env) print_env "${2:?env DIR}" ;;
  --*) setup "$@" ;;
  *) die "usage: slapd.sh [setup] [--users N] [--dir DIR] | start DIR | stop DIR | env DIR" ;;
esac
