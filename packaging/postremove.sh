#!/bin/sh
# Removal keeps the data directory: it holds the journal the tax authority
# may audit, the invoice counter and the stamping key. Only an explicit
# purge (dpkg --purge / apt purge) deletes it. rpm has no purge: erase
# leaves /var/lib/egsd for the administrator to delete. The user egsd is
# kept so a later install owns the same files.
set -e
data="${DPKG_ROOT:-}/var/lib/egsd"
case "$1" in
purge)
	rm -rf "$data"
	;;
esac
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
