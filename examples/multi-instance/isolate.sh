#!/bin/bash
# isolate.sh COMMAND...: runs COMMAND with every other process of the machine
# on CPU 1, so that CPU 0 is left to what COMMAND pins there (see
# BenchmarkDataPlaneIsolated); then gives every process all CPUs again.
# Needs root (or the owner of every process) and taskset.
all=0-$(($(nproc --all)-1))
for p in $(ps -e -o pid=); do [ "$p" != "$$" ] && taskset -apc 1 "$p" >/dev/null 2>&1; done
taskset -pc 1 $$ >/dev/null
taskset -c "$all" "$@"; rc=$?
for p in $(ps -e -o pid=); do taskset -apc "$all" "$p" >/dev/null 2>&1; done
exit $rc
