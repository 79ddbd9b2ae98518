#!/usr/bin/env bash
# Make sure Postgres and Redis answer on the configured addresses. Starts this machine's own servers when they
# are installed but stopped; otherwise says exactly what to install. Used by `make run` and `make test`.
set -euo pipefail

PG_HOST="${PGHOST_CHECK:-127.0.0.1}"
PG_PORT="${PGPORT_CHECK:-5432}"
REDIS_HOST="${REDIS_HOST_CHECK:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT_CHECK:-6379}"

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }
redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
  else
    (exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null
  fi
}
wait_for() { for _ in $(seq 1 50); do "$1" && return 0; sleep 0.2; done; return 1; }

if ! command -v pg_isready >/dev/null 2>&1; then
  echo "PostgreSQL client tools are missing: install PostgreSQL 15+ (Debian/Ubuntu: apt-get install postgresql postgresql-contrib)" >&2
  exit 1
fi

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting the local PostgreSQL cluster…"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
  fi
  wait_for pg_up || {
    echo "PostgreSQL is not reachable at $PG_HOST:$PG_PORT and could not be started: install PostgreSQL 15+ with contrib (apt-get install postgresql postgresql-contrib) and allow trust auth for user postgres on 127.0.0.1, or set DATABASE_URL" >&2
    exit 1
  }
fi

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting the local Redis server…"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  wait_for redis_up || {
    echo "Redis is not reachable at $REDIS_HOST:$REDIS_PORT and could not be started: install Redis 6+ (apt-get install redis-server), or set REDIS_URL" >&2
    exit 1
  }
fi
# promtool checks the Prometheus config and runs the alert rules' unit tests in `make test` (Debian's prometheus);
# amtool checks the Alertmanager config and its routes (Debian's prometheus-alertmanager). Installed when missing.
install_tool() {  # install_tool TOOL PACKAGE WHY
  command -v "$1" >/dev/null 2>&1 && return 0
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing $1 (Debian package $2)…"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null; } \
      || { echo "could not install $1: apt-get install $2" >&2; exit 1; }
  else
    echo "$1 is missing ($3): install it (Debian/Ubuntu: apt-get install $2)" >&2
    exit 1
  fi
}
install_tool promtool prometheus "the alert rules' tests need it"
install_tool amtool prometheus-alertmanager "the Alertmanager config's tests need it"
echo "postgres and redis are up"
