#!/bin/bash
# Stand-in for a data bus: declares itself operational by creating a ready flag after a short delay.
# The flag is removed at start (a stale flag of a killed predecessor must not fool the checks) and on SIGTERM,
# SIGINT or SIGHUP, so that it exists only while this bus is up.
# Usage: data_bus.sh FLAG_FILE [DELAY_SECONDS=0.3]
flag="$1"
delay="${2:-0.3}"
rm -f "$flag"
trap 'rm -f "$flag"; exit 0' TERM INT HUP
sleep "$delay" & wait $!
touch "$flag"
while :; do sleep 3600 & wait $!; done
