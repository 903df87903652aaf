#!/bin/sh
# After install and upgrade: the system user egsd, its private data
# directory, the configuration readable by that user only, and the service
# enabled. A first install does not start it: the shipped configuration is
# an example (the test regime, no legal value) that a technician edits
# first. An upgrade restarts a running service. dpkg passes "configure [old-version]", rpm 1 on
# install and 2 on upgrade. Paths are under $DPKG_ROOT when dpkg installs
# into another root (dpkg --root); services are then left alone.
set -e
user=egsd
data="${DPKG_ROOT:-}/var/lib/egsd"
config="${DPKG_ROOT:-}/etc/egsd/config.toml"

if ! getent passwd "$user" >/dev/null; then
	useradd --system --user-group --home-dir /var/lib/egsd --no-create-home \
		--shell /usr/sbin/nologin --comment "egsd fiscal device agent" "$user"
fi

# The journal, the stamping key and the owner token: the service user only.
mkdir -p "$data"
chown "$user:$user" "$data"
chmod 0700 "$data"

# The configuration may hold credentials: root writes it, the service reads it.
if [ -f "$config" ]; then
	chgrp "$user" "$config"
	chmod 0640 "$config"
fi

if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	systemctl enable egsd.service || true
	first=no
	case "$1" in
	configure) [ -z "${2:-}" ] && first=yes ;;
	1) first=yes ;;
	esac
	if [ "$first" = yes ]; then
		echo "egsd: edit /etc/egsd/config.toml (regime, seller, device, printer), then: systemctl start egsd" >&2
	else
		systemctl try-restart egsd.service || true
	fi
fi
exit 0
