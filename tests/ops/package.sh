#!/usr/bin/env bash
# Builds the Debian package, installs it with dpkg on this machine, checks what it installed (files, owners,
# modes, the service user, the key and the database that postinst created), runs `motpd --version` and
# `motpd config check` as the service user, checks the systemd unit (`systemd-analyze verify`, and `security`
# with an exposure of at most 2.0), purges the package and checks that the key and the database were kept and
# said so. Then removes what it created.
#
# The .deb is built from the dev-profile binary (`cargo deb --profile dev --no-build`; the tests build that
# profile anyway), so CI pays for no release build. Admins build the release package with plain `cargo deb`.
#
# It refuses to run where a motpd package, user or /var/lib/motpd already exists, unless it left them itself
# (its marker file): it never deletes an admin's data.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

CARGO_DEB_VERSION=3.8.0
MARKER=/var/tmp/motpd-package-test.marker
STATE=/var/lib/motpd
CONFIG=/etc/motpd/motpd.toml
UNIT=/usr/lib/systemd/system/motpd.service
MAX_EXPOSURE=2.0

fail() { echo "package: FAIL: $*" >&2; exit 1; }
ok() { echo "package: ok   $*"; }

# --- tools ---------------------------------------------------------------------------------------------------
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  echo "package: installing cargo-deb $CARGO_DEB_VERSION (a few minutes, once per machine)"
  cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
fi
missing=()
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v adduser >/dev/null || missing+=(adduser)
command -v deb-systemd-helper >/dev/null || missing+=(init-system-helpers)
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- what this machine already has ---------------------------------------------------------------------------
remove_test_install() {
  dpkg --purge motpd >/dev/null 2>&1 || true
  rm -rf "$STATE" /etc/motpd
  if getent passwd motpd >/dev/null; then deluser --system --quiet motpd >/dev/null 2>&1 || true; fi
  if getent group motpd >/dev/null; then delgroup --system --quiet motpd >/dev/null 2>&1 || true; fi
  rm -f "$MARKER"
}
if [ -e "$MARKER" ]; then
  echo "package: removing what an interrupted earlier run left"
  remove_test_install
fi
if dpkg -s motpd >/dev/null 2>&1 || getent passwd motpd >/dev/null || getent group motpd >/dev/null \
  || [ -e "$STATE" ] || [ -e /etc/motpd ]; then
  fail "a motpd package, user, group, $STATE or /etc/motpd exists already: not touching an admin's installation"
fi

# --- build ---------------------------------------------------------------------------------------------------
cargo build --locked --quiet --bin motpd
rm -rf target/debian
cargo deb --no-build --profile dev --fast --no-dbgsym --quiet 2>&1 | grep -v "dev profile is not supported\|To enable debug symbols" || true
deb=$(ls target/debian/motpd_*.deb)
ok "built $deb"

# --- install -------------------------------------------------------------------------------------------------
touch "$MARKER"
trap remove_test_install EXIT
dpkg -i "$deb" >target/debian/install.log 2>&1 || { cat target/debian/install.log; fail "dpkg -i"; }
cat target/debian/install.log

mode_owner() { stat -c '%a %U:%G' "$1"; }
expect() { # path, "mode user:group"
  local got
  got=$(mode_owner "$1") || fail "$1 is missing"
  [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
  ok "$1 $got"
}
[ -x /usr/bin/motpd ] || fail "/usr/bin/motpd is not installed"
expect /usr/bin/motpd "755 root:root"
expect /etc/motpd "750 root:motpd"
expect "$CONFIG" "640 root:motpd"
grep -qx "$CONFIG" /var/lib/dpkg/info/motpd.conffiles || fail "$CONFIG is not a conffile"
ok "$CONFIG is a conffile"
expect "$STATE" "700 motpd:motpd"
expect "$STATE/motpd.key" "600 motpd:motpd"
expect "$STATE/motpd.db" "600 motpd:motpd"
expect "$UNIT" "644 root:root"
getent passwd motpd | grep -q ":$STATE:" || fail "the motpd user's home is not $STATE"
[ "$(getent passwd motpd | cut -d: -f3)" -lt 1000 ] || fail "motpd is not a system user"
ok "system user motpd, home $STATE"
[ -L /etc/systemd/system/multi-user.target.wants/motpd.service ] || fail "the unit is not enabled"
ok "motpd.service enabled"

version=$(/usr/bin/motpd --version)
[[ "$version" == "motpd $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)" ]] || fail "motpd --version: $version"
ok "$version"

if ! (cd / && runuser -u motpd -- /usr/bin/motpd config check --config "$CONFIG"); then
  fail "motpd config check as the service user"
fi
ok "config check as motpd: exit 0"

systemd-analyze verify "$UNIT" || fail "systemd-analyze verify $UNIT"
ok "systemd-analyze verify"
security=$(systemd-analyze security --offline=true "$UNIT" 2>&1) || true
exposure=$(sed -n 's/.*Overall exposure level for motpd.service: \([0-9.]*\).*/\1/p' <<<"$security")
[ -n "$exposure" ] || { echo "$security"; fail "no exposure level from systemd-analyze security"; }
awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }' \
  || { echo "$security"; fail "exposure level $exposure > $MAX_EXPOSURE"; }
ok "systemd-analyze security: exposure $exposure (at most $MAX_EXPOSURE)"

# --- upgrade (the same version again): postinst keeps the key and the database ----------------------------
key_sum=$(sha256sum "$STATE/motpd.key")
again=$(dpkg -i "$deb" 2>&1) || { echo "$again"; fail "dpkg -i over the installed package"; }
! grep -q "created the key file" <<<"$again" || fail "postinst ran motpd init again"
[ "$(sha256sum "$STATE/motpd.key")" = "$key_sum" ] || fail "a reinstall changed the key file"
expect "$STATE/motpd.db" "600 motpd:motpd"
ok "reinstall kept the key and the database"

# --- purge ---------------------------------------------------------------------------------------------------
purge=$(dpkg --purge motpd 2>&1) || { echo "$purge"; fail "dpkg --purge"; }
echo "$purge"
grep -q "kept $STATE" <<<"$purge" || fail "purge did not say that $STATE was kept"
[ -f "$STATE/motpd.key" ] && [ -f "$STATE/motpd.db" ] || fail "purge deleted the key or the database"
ok "purge kept $STATE/motpd.key and $STATE/motpd.db and said so"
[ ! -e /usr/bin/motpd ] && [ ! -e "$CONFIG" ] && [ ! -e "$UNIT" ] || fail "purge left package files"
[ ! -e /etc/systemd/system/multi-user.target.wants/motpd.service ] || fail "purge left the unit enabled"
ok "purge removed the binary, the configuration and the unit"
