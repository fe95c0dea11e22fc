#!/bin/bash
# Stand-in for a data bus check: exits 0 as soon as the ready flag of its data bus exists, 1 after the timeout.
# Usage: check_data_bus.sh FLAG_FILE [TIMEOUT_SECONDS=30]
flag="$1"
timeout="${2:-30}"
trap 'exit 1' TERM INT HUP
polls=$(( ${timeout%.*} * 20 ))
while [ ! -f "$flag" ]; do
    [ "$polls" -le 0 ] && exit 1
    polls=$(( polls - 1 ))
    sleep 0.05
done
exit 0
