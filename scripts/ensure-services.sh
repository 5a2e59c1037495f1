#!/usr/bin/env bash
# Make sure MariaDB (127.0.0.1:3306) and Redis (127.0.0.1:6379) answer; start them when installed but stopped.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # name port
  for _ in $(seq 1 60); do port_open "$2" && return 0; sleep 0.5; done
  echo "error: $1 was started but does not answer on 127.0.0.1:$2 after 30 s" >&2
  return 1
}

if ! port_open "${FRESH_DB_PORT:-3306}"; then
  if [ -x /usr/sbin/mariadbd ]; then
    echo "MariaDB is not answering: starting it"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_port MariaDB "${FRESH_DB_PORT:-3306}"
  else
    echo "error: MariaDB is not running on 127.0.0.1:3306 and is not installed (apt-get install mariadb-server)" >&2
    exit 1
  fi
fi

if ! port_open 6379; then
  if command -v redis-server >/dev/null; then
    echo "Redis is not answering: starting it"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_port Redis 6379
  else
    echo "error: Redis is not running on 127.0.0.1:6379 and is not installed (apt-get install redis-server)" >&2
    exit 1
  fi
fi
echo "MariaDB and Redis answer"
