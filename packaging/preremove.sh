#!/bin/sh
# Stops and removes the service; the data directory (the journal) is kept.
set -e
/usr/bin/egsd service stop || true
/usr/bin/egsd service uninstall || true
