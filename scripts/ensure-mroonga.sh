#!/usr/bin/env bash
# Make sure MariaDB has the Mroonga engine (Chinese full-text search, #21): install Debian's
# mariadb-plugin-mroonga when missing and enable it with INSTALL SONAME through the administrative login.
# Never restarts the server (installing the plugin only adds an engine). Where Mroonga cannot be had, it says so and
# exits 0: the shop then searches with LIKE (catalog.search = "like" behaviour) and logs one warning at start.
#
# The administrative login is the first that works of: FRESH_DB_ADMIN_USER / FRESH_DB_ADMIN_PASSWORD
# (over FRESH_DB_ADMIN_SOCKET when given, else TCP; when given, the only one tried), else root over TCP on
# the settings' db.host:db.port (127.0.0.1:3306) without a password, else root over the unix socket (as root, else
# through password-less sudo).
set -uo pipefail

cd "$(dirname "$0")/.."
# Where the shop's MariaDB is, as the bootstrap reads it from the settings (FRESH_DB_HOST/PORT, conf/fresh.toml).
read -r host port _ _ <<<"$("${PYTHON:-python3}" -m fresh.bootstrap endpoints 2>/dev/null)"
host="${host:-${FRESH_DB_HOST:-127.0.0.1}}"
port="${port:-${FRESH_DB_PORT:-3306}}"
client="$(command -v mariadb || command -v mysql || true)"

warn() { echo "warning: $*; the shop will search with LIKE (slower on large catalogs)" >&2; exit 0; }

[ -n "$client" ] || warn "no mariadb client to enable Mroonga with"

admin() {  # run the SQL given on stdin through the first administrative login that works
  local sql; sql="$(cat)"
  if [ -n "${FRESH_DB_ADMIN_USER:-}" ]; then
    if [ -n "${FRESH_DB_ADMIN_SOCKET:-}" ]; then
      MYSQL_PWD="${FRESH_DB_ADMIN_PASSWORD:-}" "$client" -S "$FRESH_DB_ADMIN_SOCKET" -u "$FRESH_DB_ADMIN_USER" -N -B <<<"$sql"
    else
      MYSQL_PWD="${FRESH_DB_ADMIN_PASSWORD:-}" "$client" -h "$host" -P "$port" -u "$FRESH_DB_ADMIN_USER" -N -B <<<"$sql"
    fi
    return
  fi
  "$client" -h "$host" -P "$port" -u root -N -B <<<"$sql" 2>/dev/null && return
  if [ "$(id -u)" -eq 0 ]; then
    "$client" -u root -N -B <<<"$sql"
  else
    sudo -n "$client" -u root -N -B <<<"$sql"
  fi
}

engine_ready() {
  [ "$(admin <<<"SELECT COUNT(*) FROM information_schema.engines WHERE engine='Mroonga' AND support IN ('YES','DEFAULT')" 2>/dev/null)" = "1" ]
}

if engine_ready; then
  exit 0
fi

# The server's plugin directory decides whether the package is needed (it matches the server's version).
plugin_dir="$(admin <<<"SELECT @@plugin_dir" 2>/dev/null)" || warn "no administrative login to MariaDB on $host:$port"
if [ ! -e "${plugin_dir%/}/ha_mroonga.so" ]; then
  command -v apt-get >/dev/null || warn "ha_mroonga.so is missing and apt-get is not available"
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || warn "ha_mroonga.so is missing and installing it needs root"
    SUDO=sudo
  else
    SUDO=
  fi
  echo "installing mariadb-plugin-mroonga"
  # The package's own post-install step may complain about /etc/mysql/debian.cnf and still succeed; the
  # INSTALL SONAME below is what enables the engine. apt runs under a lock shared with other bootstraps.
  export DEBIAN_FRONTEND=noninteractive
  if ! flock /tmp/apt.lock $SUDO apt-get install -y -qq mariadb-plugin-mroonga >/dev/null 2>&1; then
    flock /tmp/apt.lock $SUDO apt-get update -qq >/dev/null 2>&1
    flock /tmp/apt.lock $SUDO apt-get install -y -qq mariadb-plugin-mroonga >/dev/null 2>&1 \
      || warn "mariadb-plugin-mroonga could not be installed"
  fi
fi

# INSTALL SONAME fails when the plugin is already registered (another bootstrap won the race): check again after.
admin <<<"INSTALL SONAME 'ha_mroonga'" >/dev/null 2>&1 || true
engine_ready || warn "INSTALL SONAME 'ha_mroonga' did not enable Mroonga"
echo "Mroonga enabled"
