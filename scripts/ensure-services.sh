#!/usr/bin/env bash
# The bootstrap of `make run` and `make test` on Debian/Ubuntu: install MariaDB, Redis and python3-venv when
# missing, start MariaDB and Redis when they do not answer (through systemctl or service when the machine has a
# service manager, directly otherwise), then make sure the shop's own MariaDB account works (fresh/bootstrap.py).
# Root, or sudo without a password, is needed only to install packages or start a system service; without them the
# script stops at once. Every failure is one line saying what is wrong and the command that fixes it, and running
# the script again after the fix continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PATH:/usr/sbin:/sbin"  # service and start-stop-daemon, outside a plain user's PATH
PY="${PYTHON:-python3}"
WAIT_SECONDS=30

die() { echo "error: $*" >&2; exit 1; }

command -v "$PY" >/dev/null || die "$PY is missing: run  sudo apt-get install -y python3 python3-venv"

# Root's commands run as root, through password-less sudo, or not at all.
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  as_root=(none)
fi
root_command() {  # how the user runs a command (one string, maybe with &&) as root
  if ! command -v sudo >/dev/null; then echo "su root -c \"$1\""
  elif [[ $1 == *'&&'* ]]; then echo "sudo sh -c \"$1\""
  else echo "sudo $1"; fi
}
need_root() {  # what for, the command that does it
  [ "${as_root[*]-}" != none ] || die "$1 needs root and there is no password-less sudo: run  $(root_command "$2")"
}

answers() {  # host port: something accepts TCP connections there
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}
is_local() { case "$1" in 127.0.0.1|localhost|::1) return 0 ;; *) return 1 ;; esac; }
installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }

endpoints="$("$PY" -m fresh.bootstrap endpoints)" || exit 1
read -r db_host db_port redis_host redis_port var_dir <<<"$endpoints"

# What is missing: servers only when nothing answers where the shop looks (a server elsewhere needs no package).
missing=()
if ! answers "$db_host" "$db_port" && is_local "$db_host" && ! installed mariadb-server; then
  missing+=(mariadb-server)
elif ! command -v mariadb >/dev/null && ! command -v mysql >/dev/null; then
  missing+=(mariadb-client)  # the account step speaks to MariaDB through the client
fi
if [ "$redis_host" != - ] && ! answers "$redis_host" "$redis_port" && is_local "$redis_host" \
    && ! installed redis-server; then
  missing+=(redis-server)
fi
if [ ! -x .venv/bin/python ] && ! "$PY" -c 'import ensurepip' 2>/dev/null; then
  missing+=(python3-venv)  # Debian's python3 cannot make a virtualenv without it
fi

if [ ${#missing[@]} -gt 0 ]; then
  need_root "installing ${missing[*]}" "apt-get install -y ${missing[*]}"
  command -v apt-get >/dev/null || die "${missing[*]} missing and this is no Debian/Ubuntu: install them yourself"
  echo "installing ${missing[*]} (apt-get, takes a minute)"
  apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq)
  "${apt[@]}" update >/dev/null || die "apt-get update failed (see above): run  $(root_command "apt-get update")"
  "${apt[@]}" install -y "${missing[@]}" >/dev/null \
    || die "installing ${missing[*]} failed (see above): run  $(root_command "apt-get install -y ${missing[*]}")"
fi

# How a system service is started here, or "" when there is no service manager (a container).
manager_command() {  # service name
  if [ -d /run/systemd/system ]; then echo "systemctl start $1"
  elif command -v service >/dev/null && [ -x "/etc/init.d/$1" ]; then echo "service $1 start"
  fi
}

wait_for() {  # name host port where-to-look
  echo "waiting for $1 on $2:$3 (up to $WAIT_SECONDS s)"
  for _ in $(seq 1 $((WAIT_SECONDS * 2))); do answers "$2" "$3" && return 0; sleep 0.5; done
  die "$1 was started but does not answer on $2:$3 after $WAIT_SECONDS s: see  $4"
}

if ! answers "$db_host" "$db_port"; then
  is_local "$db_host" || die "MariaDB does not answer on $db_host:$db_port (not this machine, so nothing is started): check that server or FRESH_DB_HOST"
  # The system's MariaDB listens on 3306; a server meant for another port is not the bootstrap's to start.
  [ "$db_port" = 3306 ] || die "MariaDB does not answer on $db_host:$db_port: start the server meant for that port, or unset FRESH_DB_PORT"
  start="$(manager_command mariadb)"
  if [ -n "$start" ]; then
    need_root "starting MariaDB" "$start"
    echo "MariaDB is not answering: $start"
    # shellcheck disable=SC2086 # the command is words on purpose
    "${as_root[@]}" $start >/dev/null || die "$start failed: see  journalctl -u mariadb  or /var/log/mysql/error.log"
    wait_for MariaDB "$db_host" "$db_port" "journalctl -u mariadb  or /var/log/mysql/error.log"
  else
    # No service manager: mariadbd itself, as Debian's configuration sets it up (user mysql, socket in /run/mysqld).
    direct="mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld && start-stop-daemon --start --background --exec /usr/sbin/mariadbd -- --user=mysql"
    need_root "starting MariaDB" "$direct"
    echo "MariaDB is not answering: starting mariadbd (no service manager here)"
    "${as_root[@]}" sh -c "$direct" || die "starting mariadbd failed: run  $(root_command "/usr/sbin/mariadbd --user=mysql")  to see why"
    wait_for MariaDB "$db_host" "$db_port" "$(root_command "/usr/sbin/mariadbd --user=mysql")  (run in the foreground, it says why)"
  fi
fi

if [ "$redis_host" != - ] && ! answers "$redis_host" "$redis_port"; then
  is_local "$redis_host" || die "Redis does not answer on $redis_host:$redis_port (not this machine, so nothing is started): check that server or FRESH_REDIS_URL"
  # The system's Redis listens on 6379; for another port (or no service manager) the shop runs its own.
  start=""
  [ "$redis_port" != 6379 ] || start="$(manager_command redis-server)"
  if [ -n "$start" ]; then
    need_root "starting Redis" "$start"
    echo "Redis is not answering: $start"
    # shellcheck disable=SC2086
    "${as_root[@]}" $start >/dev/null || die "$start failed: see  journalctl -u redis-server  or /var/log/redis/"
    wait_for Redis "$redis_host" "$redis_port" "journalctl -u redis-server  or /var/log/redis/"
  else
    # The shop's own redis-server as this user, its data kept in var/redis (an append-only file).
    echo "Redis is not answering: starting redis-server on port $redis_port with its data in $var_dir/redis"
    scripts/start-redis.sh "$redis_port" "$var_dir/redis" || die "starting redis-server failed: see  $var_dir/redis/redis.log"
    wait_for Redis "$redis_host" "$redis_port" "$var_dir/redis/redis.log"
  fi
fi

"$PY" -m fresh.bootstrap account || exit 1
echo "MariaDB and Redis answer"
