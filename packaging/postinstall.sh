#!/bin/sh
# Installs and starts the service on package install. The service runs as
# the dedicated system user egsd, whose home is the data directory.
set -e
/usr/bin/egsd service install --config /etc/egsd/config.toml || true
chgrp egsd /etc/egsd/config.toml 2>/dev/null || true
/usr/bin/egsd service start || true
