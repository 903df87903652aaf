#!/bin/sh
# Before removal the service is stopped and disabled; an upgrade (dpkg
# "upgrade", rpm 1) leaves it running for postinstall to restart.
set -e
case "$1" in
remove | 0)
	if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
		systemctl disable --now egsd.service || true
	fi
	;;
esac
exit 0
