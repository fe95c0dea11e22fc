#!/bin/bash
# Stand-in for a service of the use case: runs until it is asked to stop, then exits cleanly.
trap 'exit 0' TERM INT HUP
while :; do sleep 3600 & wait $!; done
