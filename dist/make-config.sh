#!/usr/bin/env bash
# Prints the Debian package's /etc/motpd/motpd.toml: examples/motpd.toml with the database and the key file in
# /var/lib/motpd (the service's StateDirectory). After a change to examples/motpd.toml:
#   bash dist/make-config.sh > dist/motpd.toml
# (tests/integration/config_check.rs fails until the two agree).
set -euo pipefail
cd "$(dirname "$0")/.."
sed -e '1s|.*|# motpd configuration of the Debian package (/etc/motpd/motpd.toml): the example `motpd init` writes, with the\n# database and the key file in /var/lib/motpd, the service'"'"'s state directory. Every other key has its default.|' \
    -e 's|^url = "sqlite://motpd.db"$|url = "sqlite:///var/lib/motpd/motpd.db"|' \
    -e 's|^key_file = "motpd.key"$|key_file = "/var/lib/motpd/motpd.key"|' \
    examples/motpd.toml
