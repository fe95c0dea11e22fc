#!/bin/bash
# Stand-in for a service of the use case: runs until it is asked to stop, then exits cleanly.
# Supervisor gives the namespec of the process in the environment.
trap 'exit 0' TERM INT HUP
echo "${SUPERVISOR_GROUP_NAME}:${SUPERVISOR_PROCESS_NAME} running"
while :; do sleep 3600 & wait $!; done
