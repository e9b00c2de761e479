#!/usr/bin/env bash
# Stop the daemons bringup.sh started.
BASE=${SLURM_BASE:-/tmp/vkdnw-slurm}
for f in "$BASE"/state/slurmd.pid "$BASE"/state/slurmctld.pid "$BASE"/state/slurmdbd.pid /run/mysqld/mariadbd.pid; do
  [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
done
pkill -x munged 2>/dev/null || true
