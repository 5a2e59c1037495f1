#!/usr/bin/env bash
# Start the shop's own redis-server in the background on 127.0.0.1:<port> as the current user, its data in <dir>:
# an append-only file fsynced every second, replayed at start, so a restart keeps carts and sessions and a crash
# loses at most the last second of writes. The bootstrap runs it where there is no service manager.
#   scripts/start-redis.sh <port> <dir>
set -euo pipefail
port="${1:?usage: start-redis.sh <port> <dir>}"
dir="${2:?usage: start-redis.sh <port> <dir>}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
exec redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --dir "$dir" \
  --appendonly yes --appendfsync everysec --save "" \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
