#!/usr/bin/env bash
# Stop the daemons bringup.sh started, each by its pid file (never by name: other SLURM or
# MariaDB processes on the machine are not ours), and wait until they are gone.
BASE=${SLURM_BASE:-/tmp/vkdnw-slurm}
pids=()
for f in "$BASE"/state/slurmd.pid "$BASE"/state/slurmctld.pid "$BASE"/state/slurmdbd.pid \
         /run/mysqld/mariadbd.pid /run/munge/munged.pid; do
  if [ -s "$f" ] && pid=$(cat "$f") && kill "$pid" 2>/dev/null; then
    pids+=("$pid")
    echo "stopped $(basename "$f" .pid) ($pid)"
  fi
done
for pid in "${pids[@]}"; do
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
done
exit 0
